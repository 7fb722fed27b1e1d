"""Who is asking: the caller of every request identified (session or token) and checked with
the Hub (admin, instructor group, or teaching staff of a course)."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from flask import (
    Flask,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_wtf.csrf import CSRFError

from app.courses.service import staff_groups, staff_users
from app.error_pages import handle_refusal, is_api_request
from app.errors import HubclassError
from app.extensions import csrf
from app.hub import HubError, HubUser, Identity, hub_client

log = logging.getLogger(__name__)

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


@dataclass(frozen=True)
class Instructor:
    """The person behind this request, checked against the Hub.

    `instructor`: in a service-wide instructor group (or a Hub admin), so may create courses.
    Others get in only as teaching staff of a course, and act on those courses alone.
    """

    name: str
    admin: bool
    groups: tuple[str, ...]
    instructor: bool = False


class AccessError(HubclassError):
    """The caller may not go on: not signed in, a token too narrow, or not teaching."""

    title = "Access"
    http_status = 403


class Unauthorized(AccessError):
    """Nobody is signed in (pages redirect to the Hub login; the API answers 401)."""

    http_status = 401

    def __init__(self) -> None:
        super().__init__("unauthenticated", "Send 'Authorization: token <your Hub API token>'.")


class TokenTooNarrow(AccessError):
    """A user's token that lacks access to this service."""

    def __init__(self, name: str, service: str):
        super().__init__(
            "token_scope",
            f"This token of {name!r} lacks the scope access:services!service={service}; make "
            "a token with it (or with no scope limits) on the Hub's token page.",
        )
        self.name = name


class NotAnInstructor(AccessError):
    """Signed in, but neither a Hub admin, in an instructor group, nor staff of a course."""

    def __init__(self, name: str, groups: list[str]):
        super().__init__(
            "not_instructor",
            f"{name!r} is not a Hub admin nor in the group(s) {', '.join(groups)}.",
        )
        self.name = name
        self.groups = groups


# How far into its time an entry is asked for again in the background, while reads go on with
# it: an instructor who keeps browsing never waits for the Hub. (bench/load.py: the page that
# found its entry expired waited for a busy Hub, and those were the slowest pages.) It only
# makes a stale answer live shorter: an entry still expires at ttl if the Hub does not answer.
REFRESH_AFTER = 0.5


class _TTLCache:
    """A small per-process cache: the Hub is asked again once an entry is older than ttl."""

    def __init__(self) -> None:
        self._items: dict[str, tuple[float, object]] = {}
        self._refreshing: set[str] = set()
        self._lock = threading.Lock()

    def get(self, key: str, ttl: float):
        with self._lock:
            item = self._items.get(key)
        if item and time.monotonic() - item[0] < ttl:
            return item[1]
        return None

    def claim_refresh(self, key: str, ttl: float) -> bool:
        """True (once, until refreshed()) when the entry is past REFRESH_AFTER of its time."""
        with self._lock:
            item = self._items.get(key)
            if item is None or key in self._refreshing:
                return False
            if time.monotonic() - item[0] < ttl * REFRESH_AFTER:
                return False
            self._refreshing.add(key)
            return True

    def refreshed(self, key: str) -> None:
        with self._lock:
            self._refreshing.discard(key)

    def put(self, key: str, value: object) -> None:
        with self._lock:
            if len(self._items) > 10_000:  # bounded: forget everything rather than grow
                self._items.clear()
            self._items[key] = (time.monotonic(), value)

    def discard(self, key: str) -> None:
        with self._lock:
            self._items.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


def public(view):
    """Mark a view as reachable without signing in."""
    view.hubclass_public = True
    return view


def init_app(app: Flask) -> None:
    app.extensions["hubclass.users"] = _TTLCache()  # username -> Instructor, or False
    app.extensions["hubclass.tokens"] = _TTLCache()  # sha256(token) -> username
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False  # checked in authenticate(), see below
    app.before_request(authenticate)


def _token_from_header() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() in ("token", "bearer") and token.strip():
        return token.strip()
    return None


def _is_write() -> bool:
    """True for a request that may change something: its caller is checked with the Hub anew.

    The caches save a Hub call per page view; a write is rare, and must not go through for
    HUB_AUTH_CACHE_SECONDS after the token was revoked or the instructor removed.
    """
    return request.method not in SAFE_METHODS


def _user_for_token(token: str, fresh: bool = False) -> str:
    cache = current_app.extensions["hubclass.tokens"]
    # Only a hash of the token is kept, never the token itself.
    key = hashlib.sha256(token.encode()).hexdigest()
    if fresh:
        # Forget the earlier answer first: if the Hub now refuses the token, in any way, the
        # reads that rode on that answer end too.
        cache.discard(key)
    ttl = current_app.config["HUB_AUTH_CACHE_SECONDS"]
    name = cache.get(key, ttl)
    if name is None:
        try:
            name = _token_owner(token)
        except (Unauthorized, TokenTooNarrow):
            cache.discard(key)
            raise
        cache.put(key, name)
    elif cache.claim_refresh(key, ttl):
        _in_background(cache, key, lambda: _refresh_token(cache, key, token))
    return name


def _token_owner(token: str) -> str:
    """The user the Hub says `token` is, if it may use this service."""
    try:
        identity: Identity = hub_client().identify_token(token)
    except HubError as e:
        if e.code == "invalid_token":
            raise Unauthorized() from None
        raise
    if identity.kind != "user":
        raise Unauthorized()
    # Only tokens that may access this service count: a token the instructor made for
    # something narrower (e.g. read:users:name) must not carry Hubclass's powers.
    service = current_app.config["HUB_SERVICE_NAME"]
    if not {"access:services", f"access:services!service={service}"} & set(identity.scopes):
        raise TokenTooNarrow(identity.name, service)
    return identity.name


def _refresh_token(cache: _TTLCache, key: str, token: str) -> None:
    try:
        cache.put(key, _token_owner(token))
    except (Unauthorized, TokenTooNarrow):
        cache.discard(key)  # the next read asks the Hub itself, and is refused


def _in_background(cache: _TTLCache, key: str, refresh: Callable[[], object]) -> None:
    """Run `refresh` in a thread of its own, in this app's context."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]

    def run() -> None:
        try:
            with app.app_context():
                refresh()
        except Exception:  # the entry expires at its time; the next read then asks itself
            log.warning("Refreshing a sign-in check with the Hub failed", exc_info=True)
        finally:
            cache.refreshed(key)

    threading.Thread(target=run, name="hubclass-auth-refresh", daemon=True).start()


def check_instructor(name: str, fresh: bool = False) -> Instructor:
    """Return the instructor called `name`, asking the Hub at most once per cache period.

    With fresh, ask the Hub now (and refresh the cache with its answer).
    """
    cache = current_app.extensions["hubclass.users"]
    ttl = current_app.config["HUB_AUTH_CACHE_SECONDS"]
    cached = cache.get(name, ttl)
    if fresh or cached is None:
        cached = _ask_about(cache, name)
    elif cache.claim_refresh(name, ttl):
        _in_background(cache, name, lambda: _ask_about(cache, name))
    if not cached:
        raise NotAnInstructor(name, current_app.config["HUBCLASS_INSTRUCTOR_GROUPS"])
    return cached


def _ask_about(cache: _TTLCache, name: str) -> Instructor | bool:
    """Ask the Hub whether `name` may use Hubclass, and remember its answer."""
    user = hub_client().get_user(name)
    found = _as_instructor(user) if user else False
    cache.put(name, found)
    return found


def _as_instructor(user: HubUser) -> Instructor | bool:
    """Admins and instructor-group members teach; staff of some course may sign in too."""
    instructor = user.admin or bool(
        set(current_app.config["HUBCLASS_INSTRUCTOR_GROUPS"]).intersection(user.groups)
    )
    if instructor or staff_groups().intersection(user.groups) or user.name in staff_users():
        return Instructor(user.name, user.admin, user.groups, instructor)
    return False


def authenticate() -> None:
    """Identify the requester and check they teach; runs before every request."""
    g.instructor = None
    view = current_app.view_functions.get(request.endpoint or "")
    # The stylesheet is public too, so the sign-in failure page is styled.
    if view is None or request.endpoint == "static" or getattr(view, "hubclass_public", False):
        return
    fresh = _is_write()
    token = _token_from_header() if is_api_request() else None
    if token:
        g.instructor = check_instructor(_user_for_token(token, fresh), fresh)
        return  # a token in a header is not sent by a browser on its own: no CSRF check
    name = session.get("username")
    if not name:
        raise Unauthorized()
    g.instructor = check_instructor(name, fresh)
    if fresh:
        csrf.protect()


def handle_unauthorized(e: Unauthorized):
    if is_api_request():
        return handle_refusal(e)
    target = request.script_root + request.full_path.rstrip("?")
    return redirect(url_for("auth.login", next=target))


def handle_not_instructor(e: NotAnInstructor):
    if is_api_request():
        return handle_refusal(e)
    return render_template("auth/not_instructor.html", name=e.name, groups=e.groups), 403


def handle_csrf(e: CSRFError):
    if is_api_request():
        return {"error": {"code": "csrf", "message": e.description}}, 400
    return render_template(
        "error.html",
        title="The form expired",
        message="This form was open too long or came from another page. Go back, reload and "
        "submit it again.",
    ), 400


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(Unauthorized, handle_unauthorized)
    app.register_error_handler(NotAnInstructor, handle_not_instructor)
    app.register_error_handler(CSRFError, handle_csrf)


def current_instructor() -> Instructor:
    if g.get("instructor") is None:
        abort(401)
    return g.instructor
