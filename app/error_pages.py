"""Error pages a person can act on, and JSON errors for the API."""

from __future__ import annotations

import logging

from flask import Flask, current_app, render_template, request
from werkzeug.exceptions import HTTPException

from .errors import HubclassError
from .extensions import db

log = logging.getLogger(__name__)

API_PREFIX = "/api/"


def is_api_request() -> bool:
    """The JSON API answers errors in JSON; every other path is a page."""
    return request.path.startswith(API_PREFIX)


def _respond(status: int, code: str, title: str, message: str):
    if is_api_request():
        return {"error": {"code": code, "message": message}}, status
    return render_template("error.html", title=title, message=message), status


# Read at most this much of a refused upload before answering (see _drain_body).
DRAIN_LIMIT = 64 * 1024 * 1024


def _drain_body() -> None:
    """Read and drop the unread request body of a refused upload.

    Answering before the body is read makes the server close the connection while the Hub's
    proxy is still sending, and the browser then sees the proxy's 503 instead of our 413 page.
    """
    remaining = min(request.content_length or 0, DRAIN_LIMIT)
    stream = request.environ.get("wsgi.input")
    while stream is not None and remaining > 0:
        chunk = stream.read(min(remaining, 1 << 16))
        if not chunk:
            break
        remaining -= len(chunk)


def _limit() -> str:
    size = current_app.config.get("MAX_CONTENT_LENGTH") or 0
    return f"{size / 1024 / 1024:.0f} MiB" if size >= 1024 * 1024 else f"{size} bytes"


def handle_http(e: HTTPException):
    if e.code == 413:
        _drain_body()
        return _respond(
            413,
            "too_large",
            "File too large",
            f"The upload is larger than the {_limit()} this service accepts. Export only the "
            "columns you need, or ask your Hub admin to raise HUBCLASS_MAX_UPLOAD_BYTES.",
        )
    code = (e.name or "error").lower().replace(" ", "_")
    return _respond(e.code or 500, code, e.name or "Error", e.description or "")


def handle_refusal(e: HubclassError):
    if e.http_status >= 500:
        log.warning("%s: %r %r", type(e).__name__, e.public_code, e.message)
    return _respond(e.http_status, e.public_code, e.title, e.message)


def handle_unexpected(e: Exception):
    db.session.rollback()
    log.exception("Unexpected error")
    return _respond(
        500,
        "internal",
        "Something went wrong",
        "Hubclass hit an unexpected error; nothing was half-applied. The details are in the "
        "service log.",
    )


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, handle_http)
    app.register_error_handler(HubclassError, handle_refusal)
    app.register_error_handler(Exception, handle_unexpected)
