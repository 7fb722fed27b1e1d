"""The Hub: the REST client (the only code that calls the Hub), the app's one client, and the
typed objects the client returns (users, their servers, groups, a token's owner)."""

from .client import HubClient, HubError
from .service import hub_client, init_app
from .users import HubGroup, HubUser, Identity, Server, ServerState, parse_time, roles_by_group

__all__ = [
    "HubClient",
    "HubError",
    "HubGroup",
    "HubUser",
    "Identity",
    "Server",
    "ServerState",
    "hub_client",
    "init_app",
    "parse_time",
    "roles_by_group",
]
