"""Every redirect stays on the Hub: no Location is built from the request's Host header."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from flask import Flask, Response, current_app


def init_app(app: Flask) -> None:
    app.after_request(_keep_redirects_on_the_hub)


def _keep_redirects_on_the_hub(response: Response) -> Response:
    location = response.headers.get("Location")
    if location:
        config = current_app.config
        response.headers["Location"] = on_the_hub(
            location, config["HUB_URL"], config["HUB_SERVICE_PREFIX"]
        )
    return response


def on_the_hub(location: str, hub_url: str, fallback: str) -> str:
    """Return location as a path on this origin, unless it is on the Hub's configured URL.

    Werkzeug's own slash redirects (`api//v1` -> `api/v1`, `roster` -> `roster/`) are absolute
    URLs built from the Host header, which anyone can set: `Host: evil.example` came back as
    `Location: http://evil.example/...`. The Hub's configured URL (the authorize step, the Hub's
    home) is the one absolute target Hubclass redirects to; everything else keeps only its
    path, which the browser resolves against the origin it already talks to.
    """
    parts = urlsplit(location)
    if parts.scheme or parts.netloc:
        hub = urlsplit(hub_url)
        if hub.netloc and (parts.scheme.lower(), parts.netloc.lower()) == (
            hub.scheme.lower(),
            hub.netloc.lower(),
        ):
            return location
        location = urlunsplit(("", "", parts.path, parts.query, parts.fragment))
    # Browsers drop tabs and newlines inside URLs and read "\" as "/": "/\t/x" and "/\x" are
    # "//x", another host.
    probe = location.replace("\t", "").replace("\r", "").replace("\n", "")
    if not probe.startswith("/") or probe.startswith(("//", "/\\")):
        return fallback
    return location
