"""Sign-in through the Hub (OAuth with Authlib) and the instructor check on every request."""

from __future__ import annotations

import hashlib
import logging
import posixpath
import threading
import time
from dataclasses import dataclass
from urllib.parse import unquote

import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.flask_client import OAuth
from flask import (
    Blueprint,
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

from .courses import staff_groups, staff_users
from .extensions import csrf
from .hub import HubError, Identity
from .hubclient import hub_client

log = logging.getLogger(__name__)
bp = Blueprint("auth", __name__)

API_PREFIX = "/api/"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
# Authlib keeps each pending sign-in's OAuth state in the session as "_state_<client>_<state>".
PENDING_STATE_PREFIX = "_state_hub_"
PENDING_SIGN_INS = 3


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


class Unauthorized(Exception):
    """Nobody is signed in (pages redirect to the Hub login; the API answers 401)."""


class TokenTooNarrow(Exception):
    """A user's token that lacks access to this service."""

    def __init__(self, name: str):
        super().__init__(name)
        self.name = name


class NotAnInstructor(Exception):
    """Signed in, but neither a Hub admin nor in an instructor group."""

    def __init__(self, name: str):
        super().__init__(name)
        self.name = name


class _TTLCache:
    """A small per-process cache: the Hub is asked again once an entry is older than ttl."""

    def __init__(self) -> None:
        self._items: dict[str, tuple[float, object]] = {}
        self._lock = threading.Lock()

    def get(self, key: str, ttl: float):
        with self._lock:
            item = self._items.get(key)
        if item and time.monotonic() - item[0] < ttl:
            return item[1]
        return None

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
    oauth = OAuth(app)
    oauth.register(
        "hub",
        client_id=app.config["HUB_CLIENT_ID"],
        # The Hub gives a service its API token as its OAuth client secret.
        client_secret=app.config["HUB_API_TOKEN"],
        authorize_url=app.config["HUB_URL"] + "api/oauth2/authorize",
        access_token_url=app.config["HUB_API_URL"] + "/oauth2/token",
        api_base_url=app.config["HUB_API_URL"] + "/",
        client_kwargs={
            # The Hub's token endpoint accepts only client_secret_post (basic gets 401).
            "token_endpoint_auth_method": "client_secret_post",
            "code_challenge_method": "S256",
            "timeout": 30,
        },
    )
    app.extensions["hubclass.oauth"] = oauth
    app.extensions["hubclass.users"] = _TTLCache()  # username -> Instructor, or False
    app.extensions["hubclass.tokens"] = _TTLCache()  # sha256(token) -> username
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False  # checked in authenticate(), see below
    app.before_request(authenticate)
    app.register_blueprint(bp)


def is_api_request() -> bool:
    return request.path.startswith(API_PREFIX)


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
    name = cache.get(key, current_app.config["HUB_AUTH_CACHE_SECONDS"])
    if name is None:
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
            raise TokenTooNarrow(identity.name)
        name = identity.name
        cache.put(key, name)
    return name


def check_instructor(name: str, fresh: bool = False) -> Instructor:
    """Return the instructor called `name`, asking the Hub at most once per cache period.

    With fresh, ask the Hub now (and refresh the cache with its answer).
    """
    cache = current_app.extensions["hubclass.users"]
    ttl = current_app.config["HUB_AUTH_CACHE_SECONDS"]
    cached = cache.get(name, ttl)
    if fresh or cached is None:
        model = hub_client().get_user(name)
        cached = _as_instructor(model) if model else False
        cache.put(name, cached)
    if not cached:
        raise NotAnInstructor(name)
    return cached


def _as_instructor(model: dict) -> Instructor | bool:
    """Admins and instructor-group members teach; staff of some course may sign in too."""
    name = model.get("name", "")
    admin = bool(model.get("admin"))
    groups = tuple(model.get("groups") or ())
    instructor = admin or bool(
        set(current_app.config["HUBCLASS_INSTRUCTOR_GROUPS"]).intersection(groups)
    )
    if instructor or staff_groups().intersection(groups) or name in staff_users():
        return Instructor(name, admin, groups, instructor)
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


# A `next` longer than this is not followed: it is kept in the session cookie, which browsers
# drop silently beyond 4 KB (and with it the sign-in under way).
MAX_NEXT_LENGTH = 1024


def safe_next(target: str | None) -> str:
    """Return target if it is a plain path under the service prefix, else the prefix itself."""
    prefix = current_app.config["HUB_SERVICE_PREFIX"]
    if not target or len(target) > MAX_NEXT_LENGTH:
        return prefix
    if any(c in target for c in "\\\r\n\t\x00") or "//" in target:
        return prefix
    path, _, query = target.partition("?")
    # Browsers resolve %2e%2e as "..": judge the path as the browser will read it.
    decoded = unquote(path)
    if any(c in decoded for c in "\\\r\n\t\x00") or "//" in decoded:
        return prefix
    normal = posixpath.normpath(decoded) + ("/" if decoded.endswith("/") else "")
    if normal != decoded or not (decoded + "/").startswith(prefix) or ":" in decoded:
        return prefix
    return path + ("?" + query if query else "")


@bp.get("/login")
@public
def login():
    oauth = current_app.extensions["hubclass.oauth"]
    session["next"] = safe_next(request.args.get("next"))
    _forget_old_sign_ins()
    # The redirect URI must be the Hub's relative callback exactly: an absolute one gets 400.
    return oauth.hub.authorize_redirect(current_app.config["HUB_OAUTH_CALLBACK_URL"])


def _forget_old_sign_ins() -> None:
    """Keep the states of the newest pending sign-ins only, leaving room for this one.

    Authlib keeps a state for an hour per visit to /login, and a failed callback leaves the
    session alone (see oauth_callback): abandoned sign-ins would pile up until the cookie
    outgrew the 4 KB browsers keep, and every later sign-in would fail for lack of its state.
    """
    pending = sorted(
        (key for key in session if key.startswith(PENDING_STATE_PREFIX)),
        key=lambda key: (session[key] or {}).get("exp") or 0,
    )
    for key in pending[: max(len(pending) - (PENDING_SIGN_INS - 1), 0)]:
        session.pop(key)


@bp.get("/oauth_callback")
@public
def oauth_callback():
    oauth = current_app.extensions["hubclass.oauth"]
    try:
        token = oauth.hub.authorize_access_token()
        response = oauth.hub.get("user", token=token)
        response.raise_for_status()
        name = response.json()["name"]
    except (OAuthError, requests.RequestException, KeyError, ValueError) as e:
        # A missing, foreign or replayed state, a used code, or the Hub refusing the exchange.
        # Any page can link here, so a failure leaves the session as it was: clearing it would
        # let a bare link sign an instructor out. (Authlib has dropped the state it checked.)
        log.warning("Sign-in failed: %r", str(e)[:200])
        return render_template("signin_failed.html"), 403
    next_url = safe_next(session.get("next"))
    # A fresh session: nothing from before sign-in survives it, and the token is not kept.
    session.clear()
    session["username"] = name
    log.info("Signed in: %r", name)
    return redirect(next_url)


@bp.post("/logout")
def logout():
    session.clear()
    return redirect(current_app.config["HUB_URL"] + "home")


def handle_unauthorized(_e: Unauthorized):
    if is_api_request():
        return {
            "error": {
                "code": "unauthenticated",
                "message": "Send 'Authorization: token <your Hub API token>'.",
            }
        }, 401
    target = request.script_root + request.full_path.rstrip("?")
    return redirect(url_for("auth.login", next=target))


def handle_not_instructor(e: NotAnInstructor):
    groups = current_app.config["HUBCLASS_INSTRUCTOR_GROUPS"]
    if is_api_request():
        return {
            "error": {
                "code": "not_instructor",
                "message": f"{e.name!r} is not a Hub admin nor in the group(s) "
                f"{', '.join(groups)}.",
            }
        }, 403
    return render_template("not_instructor.html", name=e.name, groups=groups), 403


def handle_narrow_token(e: TokenTooNarrow):
    service = current_app.config["HUB_SERVICE_NAME"]
    return {
        "error": {
            "code": "token_scope",
            "message": f"This token of {e.name!r} lacks the scope "
            f"access:services!service={service}; make a token with it (or with no scope "
            "limits) on the Hub's token page.",
        }
    }, 403


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
    app.register_error_handler(TokenTooNarrow, handle_narrow_token)
    app.register_error_handler(CSRFError, handle_csrf)


def current_instructor() -> Instructor:
    if g.get("instructor") is None:
        abort(401)
    return g.instructor
