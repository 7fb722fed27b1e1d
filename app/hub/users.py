"""The Hub's models as Hubclass reads them: a user, a server, a group, a token's owner.

Pure (no Flask, no requests): the client builds these from the Hub's JSON, once, and the rest
of the app reads attributes. The Hub's ISO 8601 times are parsed here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class ServerState(StrEnum):
    """A user's default server as the Hub says (the words the dashboard stores and shows)."""

    RUNNING = "running"
    PENDING = "pending"  # starting or stopping
    STOPPED = "stopped"


def parse_time(value: str | None) -> datetime | None:
    """Parse the Hub's ISO 8601 timestamps (UTC, 'Z' or +00:00) into naive UTC."""
    if not value:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def _time(value: Any) -> datetime | None:
    """A time from a model: one that is not ISO 8601 is unknown, not a failed listing."""
    try:
        return parse_time(value)
    except (TypeError, ValueError):
        return None


def _name(model: Mapping[str, Any]) -> str:
    return str(model.get("name") or "")


def _names(value: Any) -> tuple[str, ...]:
    return tuple(value or ())


@dataclass(frozen=True)
class Server:
    """One server of a Hub user (the default one is named "")."""

    name: str
    url: str | None = None
    ready: bool = False
    # What the Hub is doing to it: "spawn", "stop", or None.
    pending: str | None = None
    started: datetime | None = None
    last_activity: datetime | None = None

    @classmethod
    def from_model(cls, model: Mapping[str, Any], *, name: str | None = None) -> Server:
        """Read a server model; `name` is its key in the user's `servers`, when it has one."""
        return cls(
            name=_name(model) if name is None else name,
            url=model.get("url") or None,
            ready=bool(model.get("ready")),
            pending=model.get("pending") or None,
            started=_time(model.get("started")),
            last_activity=_time(model.get("last_activity")),
        )

    @property
    def state(self) -> ServerState:
        """running once ready; pending while the Hub starts or stops it (or it is not ready)."""
        if self.pending:
            return ServerState.PENDING
        return ServerState.RUNNING if self.ready else ServerState.PENDING


@dataclass(frozen=True)
class HubUser:
    """A Hub user as the Hub's REST API describes them."""

    name: str
    admin: bool = False
    groups: tuple[str, ...] = ()
    # The roles the Hub lists for the user; not those their groups grant.
    roles: tuple[str, ...] = ()
    # The Hub's own text, unparsed: it is stored and compared as given (see created_at).
    created: str | None = None
    last_activity: datetime | None = None
    # The user's default server, as the user model itself says: its URL while it runs, and
    # what the Hub is doing to it. The token may see these without `servers`.
    server_url: str | None = None
    pending: str | None = None
    # Active servers by name (needs read:servers); the default server is "".
    servers: Mapping[str, Server] = field(default_factory=dict)

    @classmethod
    def from_model(cls, model: Mapping[str, Any]) -> HubUser:
        """Read a user model of JupyterHub 5 or 6 (any key may be missing or null)."""
        return cls(
            name=_name(model),
            admin=bool(model.get("admin")),
            groups=_names(model.get("groups")),
            roles=_names(model.get("roles")),
            created=model.get("created"),
            last_activity=_time(model.get("last_activity")),
            server_url=model.get("server") or None,
            pending=model.get("pending") or None,
            servers={
                str(key): Server.from_model(value, name=str(key))
                for key, value in (model.get("servers") or {}).items()
                if isinstance(value, Mapping)
            },
        )

    @property
    def created_at(self) -> datetime | None:
        """When the account was made (naive UTC), or None when the Hub did not say."""
        return _time(self.created)

    @property
    def default_server(self) -> Server | None:
        return self.servers.get("")

    @property
    def server_state(self) -> ServerState:
        """The default server, as the dashboard shows it."""
        if self.pending:
            return ServerState.PENDING
        server = self.default_server
        if server is not None:
            return server.state
        return ServerState.RUNNING if self.server_url else ServerState.STOPPED

    @property
    def server_ready(self) -> bool:
        return self.server_state == ServerState.RUNNING

    @property
    def server_started(self) -> datetime | None:
        server = self.default_server
        return server.started if server is not None else None


@dataclass(frozen=True)
class HubGroup:
    """A Hub group: its members and the roles it grants them."""

    name: str
    users: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()

    @classmethod
    def from_model(cls, model: Mapping[str, Any]) -> HubGroup:
        """Read a group model (its members and roles may be missing or null)."""
        return cls(_name(model), _names(model.get("users")), _names(model.get("roles")))


@dataclass(frozen=True)
class Identity:
    """Who a token belongs to, as the Hub's /user says: a user or a service, with the token's
    scopes."""

    name: str
    kind: str
    admin: bool
    groups: tuple[str, ...]
    scopes: tuple[str, ...]

    @classmethod
    def from_model(cls, model: Mapping[str, Any]) -> Identity:
        return cls(
            name=model.get("name", ""),
            kind=model.get("kind", "user"),
            admin=bool(model.get("admin")),
            groups=_names(model.get("groups")),
            scopes=_names(model.get("scopes")),
        )


def roles_by_group(groups: Iterable[HubGroup]) -> dict[str, tuple[str, ...]]:
    """Map each group to the roles it grants its members."""
    return {group.name: group.roles for group in groups}
