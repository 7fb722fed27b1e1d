"""Sign-in through the Hub: OAuth with Authlib (PKCE, the Hub's relative callback), sign-out."""

from __future__ import annotations

import logging
import posixpath
from urllib.parse import unquote

import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.flask_client import OAuth
from flask import Blueprint, Flask, current_app, redirect, render_template, request, session

from .access import public

log = logging.getLogger(__name__)
bp = Blueprint("auth", __name__, template_folder="templates")

# Authlib keeps each pending sign-in's OAuth state in the session as "_state_<client>_<state>".
PENDING_STATE_PREFIX = "_state_hub_"
PENDING_SIGN_INS = 3


def init_app(app: Flask) -> None:
    """Register the Hub as the OAuth provider and the sign-in routes."""
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
    app.register_blueprint(bp)


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
        return render_template("auth/signin_failed.html"), 403
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
