"""HubClient: the only code that talks to the JupyterHub REST API."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import requests
from requests.adapters import HTTPAdapter

from app.errors import HubclassError

from .users import HubGroup, HubUser, Identity

log = logging.getLogger(__name__)

PAGINATION = "application/jupyterhub-pagination+json"
MIN_HUB_VERSION = (5, 0)
# Bulk create in chunks: one invalid name fails the whole request, and the Hub spends ~20 ms per
# user, so a chunk this size answers well inside the request timeout (1000 students: 4 calls).
CREATE_CHUNK = 250
# Group membership is cheap for the Hub (~2 ms per user): a whole course in one call.
GROUP_CHUNK = 1000
RETRY_STATUSES = {429, 502, 503, 504}


POOL_SIZE = 32  # connections kept to the Hub, per client


class HubError(HubclassError):
    """A Hub call failed; `status` is the Hub's own HTTP status, when it answered."""

    title = "The Hub did not cooperate"
    http_status = 502

    def __init__(self, code: str, message: str, status: int | None = None):
        super().__init__(code, message)
        self.status = status

    @property
    def public_code(self) -> str:
        return f"hub_{self.code}"


def _hub_message(response: requests.Response) -> str:
    try:
        return str(response.json().get("message") or response.reason)
    except ValueError:
        return response.reason or f"HTTP {response.status_code}"


@dataclass(frozen=True)
class MintedToken:
    """A token the service made for another account: its id (to revoke it), the secret, and
    its owner. The secret is never logged (repr leaves it out)."""

    id: str
    token: str = field(repr=False)
    owner: str


class HubClient:
    """A requests session with the token header, timeouts, retries and pagination."""

    def __init__(
        self,
        api_url: str,
        token: str,
        *,
        timeout: float = 30.0,
        retries: int = 4,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        create_chunk: int = CREATE_CHUNK,
    ):
        self.api_url = api_url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.sleep = sleep
        self.create_chunk = create_chunk
        self.session = requests.Session()
        # Deliveries through servers call the Hub from up to HUBCLASS_SERVER_CONCURRENCY
        # threads at once (16 by default): a connection each, kept for the next call.
        adapter = HTTPAdapter(pool_maxsize=POOL_SIZE)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers["Authorization"] = f"token {token}"
        self.session.headers["User-Agent"] = "hubclass"
        self.requests_sent = 0

    # -- the one place requests are made -------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        idempotent: bool,
        ok: Iterable[int] = (200, 201, 204),
        **kwargs: Any,
    ) -> requests.Response:
        """Send one API call; retry transient failures; raise HubError for anything else.

        A non-idempotent call is retried only when the Hub said it did not act (429, 503) or the
        connection was never made; a 502/504 or a reset after sending may have reached the Hub.
        """
        url = self.api_url + path
        ok = set(ok)
        attempt = 0
        while True:
            attempt += 1
            self.requests_sent += 1
            try:
                response = self.session.request(method, url, timeout=self.timeout, **kwargs)
            except requests.ConnectionError as e:
                never_sent = isinstance(e, requests.ConnectTimeout) or "NewConnectionError" in repr(
                    e
                )
                if attempt <= self.retries and (idempotent or never_sent):
                    self._wait(attempt, None)
                    continue
                raise HubError(
                    "unreachable",
                    f"Could not reach the Hub at {self.api_url}. Is the Hub running, and is "
                    "JUPYTERHUB_API_URL right?",
                ) from e
            except requests.Timeout as e:
                if attempt <= self.retries and idempotent:
                    self._wait(attempt, None)
                    continue
                raise HubError(
                    "timeout", f"The Hub did not answer {method} {path} in {self.timeout:g} s."
                ) from e
            if response.status_code in ok:
                return response
            retryable = response.status_code in RETRY_STATUSES and (
                idempotent or response.status_code in (429, 503)
            )
            if retryable and attempt <= self.retries:
                log.info("Hub answered %s to %s %r; retrying", response.status_code, method, path)
                self._wait(attempt, response.headers.get("Retry-After"))
                continue
            raise self._error(method, path, response)

    def _wait(self, attempt: int, retry_after: str | None) -> None:
        delay = self.backoff * 2 ** (attempt - 1)
        if retry_after:
            with contextlib.suppress(ValueError):
                delay = max(delay, min(float(retry_after), 60.0))
        self.sleep(delay)

    def _error(self, method: str, path: str, response: requests.Response) -> HubError:
        status = response.status_code
        message = _hub_message(response)
        if status == 401:
            return HubError(
                "unauthorized",
                "The Hub refused the service token (401). Is JUPYTERHUB_API_TOKEN the token of "
                "this service?",
                status,
            )
        if status == 403:
            return HubError(
                "forbidden",
                f"The Hub refused {method} {path}: {message}. Grant the missing scope to the "
                "service's role (see the status page and docs/deploy.md).",
                status,
            )
        if status == 404:
            return HubError("not_found", f"Not found on the Hub: {path} ({message})", status)
        if status == 409:
            return HubError("conflict", message, status)
        if status == 429:
            # Still asked to wait after the retries: a busy Hub, not a refusal of the call.
            return HubError(
                "rate_limited",
                f"The Hub asked Hubclass to wait (429) on {method} {path}: {message}",
                status,
            )
        if 400 <= status < 500:
            return HubError("rejected", f"The Hub rejected {method} {path}: {message}", status)
        return HubError(
            "hub_error", f"The Hub failed {method} {path} with {status}: {message}", status
        )

    def _get_json(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, idempotent=True, params=params or None).json()

    def _paginated(self, path: str, params: dict[str, Any]) -> Iterator[dict]:
        """Yield every item of a listing. Always asks for pages: without the pagination header
        the Hub silently truncates lists at 200 entries."""
        params = {"limit": 200, **params, "offset": 0}
        seen = 0
        while True:
            body = self.request(
                "GET", path, idempotent=True, params=params, headers={"Accept": PAGINATION}
            ).json()
            if not isinstance(body, dict) or "_pagination" not in body:
                raise HubError(
                    "no_pagination",
                    f"The Hub did not paginate {path}. Hubclass needs JupyterHub "
                    f"{'.'.join(map(str, MIN_HUB_VERSION))} or newer.",
                )
            seen += len(body["items"])
            yield from body["items"]
            page = body["_pagination"]
            following = page.get("next")
            if not following:
                # A listing that stops short must not pass for complete: removal plans are
                # made from it (a student missing here would look like a student who left).
                total = int(page.get("total") or 0)
                if seen < total:
                    raise HubError(
                        "incomplete_listing",
                        f"The Hub listed {seen} of {total} entries of {path}; nothing is "
                        "planned from a partial listing. Try again.",
                    )
                return
            if int(following["offset"]) <= int(params["offset"]):
                raise HubError(
                    "bad_pagination", f"The Hub's pagination of {path} does not advance."
                )
            params["offset"] = following["offset"]
            params["limit"] = following.get("limit", params["limit"])

    # -- the Hub itself ----------------------------------------------------------------------------

    def version(self) -> str:
        """Return the Hub's version; GET /hub/api/ needs no scope."""
        return str(self._get_json("/").get("version", ""))

    def check_version(self) -> str:
        """Return the version, raising HubError when it is older than Hubclass supports."""
        version = self.version()
        try:
            parts = tuple(int(p) for p in version.split(".")[:2])
        except ValueError:
            parts = (0, 0)
        if parts < MIN_HUB_VERSION:
            need = ".".join(map(str, MIN_HUB_VERSION))
            raise HubError("old_hub", f"JupyterHub {version} is too old; Hubclass needs {need}+.")
        return version

    def whoami(self) -> Identity:
        """Return whom this client's token belongs to, with the token's scopes."""
        return Identity.from_model(self._get_json("/user"))

    def identify_token(self, token: str) -> Identity:
        """Return the owner of another token (an API caller's), without keeping the token."""
        response = requests.get(
            self.api_url + "/user",
            headers={"Authorization": f"token {token}"},
            timeout=self.timeout,
        )
        self.requests_sent += 1
        if response.status_code in (401, 403):
            raise HubError("invalid_token", "The Hub does not accept this token.", 401)
        if response.status_code != 200:
            raise self._error("GET", "/user", response)
        return Identity.from_model(response.json())

    # -- users -------------------------------------------------------------------------------------

    def list_users(self, **filters: Any) -> Iterator[HubUser]:
        """Yield every user (filters: state, name_filter, sort...), page by page."""
        return map(HubUser.from_model, self._paginated("/users", filters))

    def get_user(self, name: str) -> HubUser | None:
        """Return one user, or None when the Hub has no such user."""
        try:
            return HubUser.from_model(self._get_json(f"/users/{quote(name, safe='')}"))
        except HubError as e:
            if e.code == "not_found":
                return None
            raise

    def create_users(self, names: Iterable[str], *, chunk: int | None = None) -> list[HubUser]:
        """Create the users that do not exist yet, in chunks; return the new ones.

        Always the bulk endpoint: it lowercases and validates names, while the single-user
        POST does neither (a user created as 'Single1' could never log in). Callers validate
        names first, since one invalid name fails its whole chunk.
        """
        names = list(names)
        chunk = chunk or self.create_chunk
        created: list[HubUser] = []
        for start in range(0, len(names), chunk):
            batch = names[start : start + chunk]
            response = self.request(
                "POST",
                "/users",
                idempotent=False,
                ok=(201, 409),  # 409: every name of the batch exists already
                json={"usernames": batch},
            )
            if response.status_code == 201:
                created.extend(map(HubUser.from_model, response.json()))
        return created

    def delete_user(self, name: str) -> bool:
        """Delete a user; False when already gone. Home folders are never touched by the Hub."""
        path = f"/users/{quote(name, safe='')}"
        for attempt in range(1, self.retries + 2):
            try:
                self.request("DELETE", path, idempotent=True, ok=(204,))
                return True
            except HubError as e:
                if e.code == "not_found":
                    return False
                # "is in the process of stopping": the server is going away; try again.
                if e.code == "rejected" and "stopping" in e.message and attempt <= self.retries:
                    self._wait(attempt, None)
                    continue
                raise
        return False  # pragma: no cover - the loop always returns or raises

    # -- groups ------------------------------------------------------------------------------------

    def list_groups(self) -> Iterator[HubGroup]:
        """Yield every group, page by page."""
        return map(HubGroup.from_model, self._paginated("/groups", {}))

    def get_group(self, name: str) -> HubGroup | None:
        """Return one group, or None when it does not exist."""
        try:
            return HubGroup.from_model(self._get_json(f"/groups/{quote(name, safe='')}"))
        except HubError as e:
            if e.code == "not_found":
                return None
            raise

    def group_members(self, name: str) -> list[str] | None:
        """Return the members of a group, or None when the Hub has no such group."""
        group = self.get_group(name)
        return None if group is None else list(group.users)

    def ensure_group(self, name: str) -> bool:
        """Create the group if missing; return True when it was created now."""
        response = self.request(
            "POST", f"/groups/{quote(name, safe='')}", idempotent=True, ok=(201, 409)
        )
        return response.status_code == 201

    def add_group_members(self, group: str, users: Iterable[str]) -> None:
        """Add users (who must exist) to a group; members already in it are left as they are."""
        users = list(users)
        for start in range(0, len(users), GROUP_CHUNK):
            self.request(
                "POST",
                f"/groups/{quote(group, safe='')}/users",
                idempotent=True,
                json={"users": users[start : start + GROUP_CHUNK]},
            )

    def remove_group_members(self, group: str, users: Iterable[str]) -> None:
        """Remove users from a group; the users themselves stay."""
        users = list(users)
        for start in range(0, len(users), GROUP_CHUNK):
            self.request(
                "DELETE",
                f"/groups/{quote(group, safe='')}/users",
                idempotent=True,
                json={"users": users[start : start + GROUP_CHUNK]},
            )

    # -- tokens ------------------------------------------------------------------------------------

    def create_token(
        self, owner: str, scopes: list[str], *, expires_in: int, note: str
    ) -> MintedToken:
        """Make a token owned by the user `owner` with only `scopes`, expiring after
        `expires_in` seconds (the service needs `tokens!user=<owner>`, and the scopes must be
        the owner's). Not retried: a retry after a lost answer would leave a second token."""
        response = self.request(
            "POST",
            f"/users/{quote(owner, safe='')}/tokens",
            idempotent=False,
            ok=(200, 201),
            json={"scopes": scopes, "expires_in": expires_in, "note": note},
        )
        body = response.json()
        return MintedToken(id=str(body["id"]), token=str(body["token"]), owner=owner)

    def revoke_token(self, token: MintedToken) -> None:
        """Revoke a token made by create_token; one already gone (expired) is fine."""
        try:
            self.request(
                "DELETE",
                f"/users/{quote(token.owner, safe='')}/tokens/{quote(token.id, safe='')}",
                idempotent=True,
                ok=(200, 204),
            )
        except HubError as e:
            if e.code != "not_found":
                raise

    # -- servers -----------------------------------------------------------------------------------

    def start_server(self, name: str) -> None:
        """Ask the Hub to start a user's default server (201 ready, 202 pending)."""
        try:
            self.request(
                "POST", f"/users/{quote(name, safe='')}/server", idempotent=False, ok=(201, 202)
            )
        except HubError as e:
            if not (e.code == "rejected" and "already running" in e.message):
                raise

    def stop_server(self, name: str) -> None:
        """Ask the Hub to stop a user's default server (204 stopped, 202 stopping)."""
        self.request(
            "DELETE", f"/users/{quote(name, safe='')}/server", idempotent=True, ok=(202, 204)
        )
