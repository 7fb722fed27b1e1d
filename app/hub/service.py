"""The app's one HubClient, made from its config."""

from flask import Flask, current_app

from .client import HubClient


def init_app(app: Flask) -> None:
    app.extensions["hubclass.hub"] = HubClient(
        app.config["HUB_API_URL"], app.config["HUB_API_TOKEN"]
    )


def hub_client() -> HubClient:
    """Return the HubClient of the current app (the service token's client)."""
    return current_app.extensions["hubclass.hub"]
