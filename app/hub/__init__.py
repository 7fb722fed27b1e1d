"""The Hub: the REST client (the only code that calls the Hub) and the app's one client."""

from .client import HubClient, HubError, Identity
from .service import hub_client, init_app

__all__ = ["HubClient", "HubError", "Identity", "hub_client", "init_app"]
