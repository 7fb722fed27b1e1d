"""Serve the app under the Hub's service prefix, whatever WSGI server runs it."""

from __future__ import annotations

from collections.abc import Callable, Iterable

WSGIApp = Callable[..., Iterable[bytes]]


class ServicePrefix:
    """Move the service prefix from PATH_INFO to SCRIPT_NAME.

    The Hub's proxy forwards the full path (/services/hubclass/...). With the prefix in
    SCRIPT_NAME, routes are written without it and url_for() puts it back.
    """

    def __init__(self, app: WSGIApp, prefix: str):
        self.app = app
        self.prefix = prefix.rstrip("/")

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if not self.prefix:
            return self.app(environ, start_response)
        if path == self.prefix or path.startswith(self.prefix + "/"):
            # A copy: the server's access log reads its own environ, and should show the
            # full path the browser asked for.
            environ = dict(environ)
            environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "").rstrip("/") + self.prefix
            environ["PATH_INFO"] = path[len(self.prefix) :] or "/"
            return self.app(environ, start_response)
        start_response(
            "404 Not Found",
            [
                ("Content-Type", "text/plain; charset=utf-8"),
                ("X-Content-Type-Options", "nosniff"),
                ("Content-Security-Policy", "default-src 'none'"),
            ],
        )
        return [f"Hubclass is served under {self.prefix}/\n".encode()]
