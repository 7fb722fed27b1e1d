# JupyterHub config for the demo (`make demo`) and the test suite: a real Hub on 127.0.0.1 with
# Hubclass as its managed service. Everything that differs between runs comes from HUBCLASS_HUB_*
# environment variables, set by demo/run.py or tests/conftest.py (through demo/launch.py).
# ruff: noqa: F821 - `c` and `get_config` are given by JupyterHub when it loads this file
import os
import sys
from pathlib import Path

c = get_config()

repo = Path(__file__).resolve().parent.parent
venv_bin = Path(sys.executable).parent
state = Path(os.environ["HUBCLASS_HUB_STATE"])
port = int(os.environ.get("HUBCLASS_HUB_PORT", "8000"))
hub_port = int(os.environ.get("HUBCLASS_HUB_API_PORT", "8081"))
proxy_api_port = int(os.environ.get("HUBCLASS_HUB_PROXY_API_PORT", "8001"))
service_port = int(os.environ.get("HUBCLASS_SERVICE_PORT", "10101"))

# --- the Hub, all on loopback ---------------------------------------------------------------------
c.JupyterHub.bind_url = f"http://127.0.0.1:{port}"
# Without public_url the service gets empty JUPYTERHUB_PUBLIC_* variables.
c.JupyterHub.public_url = f"http://127.0.0.1:{port}"
c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{hub_port}"
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{proxy_api_port}"
# The pure-Python port of configurable-http-proxy, installed in the same venv (no npm needed).
# Its requests to a target time out after tornado's default of 20 s unless told (the node proxy
# has no limit): a large roster apply answered through it would end in a 503 under load.
c.ConfigurableHTTPProxy.command = [
    str(venv_bin / "configurable-http-proxy"),
    "--proxy-timeout",
    str(300_000),  # ms
]
c.JupyterHub.db_url = f"sqlite:///{state / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(state / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(state / "jupyterhub.pid")

# --- who can sign in ------------------------------------------------------------------------------
# Everyone signs in with the one demo password; real hubs use their own authenticator.
c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = os.environ["HUBCLASS_HUB_PASSWORD"]
c.Authenticator.allow_all = True
c.Authenticator.admin_users = {"hubadmin"}
# API-created users must be able to sign in (OAuthenticator hubs need this line too).
c.Authenticator.allow_existing_users = True
c.JupyterHub.load_groups = {"instructors": {"users": ["instructor"]}}

# The account that owns the short-lived tokens of deliveries through students' servers (its
# role below reaches every server): nobody may sign in as it. Not `blocked_users`: the Hub
# takes every role away from a blocked user at start.
DELIVERY_ACCOUNT = "hubclass-delivery"


def refuse_delivery_account(authenticator, handler, authentication):
    return None if authentication["name"] == DELIVERY_ACCOUNT else authentication


c.Authenticator.post_auth_hook = refuse_delivery_account

# --- students' servers ----------------------------------------------------------------------------
if os.environ.get("HUBCLASS_HUB_SPAWNER") == "accounts":
    # Each student's own system account and a home it owns, made at the first start (the demo
    # as root, and the tests that ask for it): what Hubclass needs to deliver into homes.
    sys.path.insert(0, str(repo))
    from demo.accounts import StudentAccountSpawner
    from demo.launch import python_for_everyone

    c.JupyterHub.spawner_class = StudentAccountSpawner
    c.StudentAccountSpawner.home_template = os.environ["HUBCLASS_HOME_TEMPLATE"]
    c.StudentAccountSpawner.required_mark = os.environ.get("HUBCLASS_HUB_ACCOUNT_MARK", "")
    python, python_env = python_for_everyone()
    c.Spawner.cmd = [*python, "-m", "jupyterhub.singleuser"]
    c.Spawner.environment = python_env
else:
    c.JupyterHub.spawner_class = "simple"  # SimpleLocalProcessSpawner: no system users needed
    c.SimpleLocalProcessSpawner.home_dir_template = str(state / "homes" / "{username}")
    c.Spawner.cmd = [str(venv_bin / "jupyterhub-singleuser")]
    if os.getuid() == 0:
        c.Spawner.args = ["--allow-root"]  # as root, user servers exit without it
c.Spawner.http_timeout = 60
# How often servers report activity and the Hub reads the proxy's (tests shorten both to see
# whether a delivery counts as the student's activity).
if os.environ.get("HUBCLASS_HUB_ACTIVITY_INTERVAL"):
    interval = int(os.environ["HUBCLASS_HUB_ACTIVITY_INTERVAL"])
    c.JupyterHub.last_activity_interval = interval
    # (update: a dict above, or traitlets' lazy value when nothing set it)
    c.Spawner.environment.update({"JUPYTERHUB_ACTIVITY_INTERVAL": str(interval)})
c.Spawner.start_timeout = 60

# --- Hubclass as a managed service ----------------------------------------------------------------
service_env = {
    "HUBCLASS_DATA_DIR": os.environ.get("HUBCLASS_DATA_DIR", str(state / "hubclass")),
    "HUBCLASS_ALLOWED_REPO_URLS": os.environ.get(
        "HUBCLASS_ALLOWED_REPO_URLS", "https://github.com/,https://gitlab.com/"
    ),
    "PYTHONUNBUFFERED": "1",
}
for name in (
    "HUBCLASS_DATABASE_URL",
    "HUBCLASS_AUTH_CACHE_SECONDS",
    "HUBCLASS_POLL_SECONDS",
    "HUBCLASS_WORKERS",
    "HUBCLASS_HOME_TEMPLATE",
    "HUBCLASS_DELIVERY",
):
    if os.environ.get(name):
        service_env[name] = os.environ[name]

hubclass = {
    "name": "hubclass",
    "url": f"http://127.0.0.1:{service_port}",
    # Upgrade the database, then serve with gunicorn bound to the URL the Hub gave the service.
    "command": [
        "/bin/sh",
        "-c",
        f'"{venv_bin}/flask" --app wsgi db upgrade && exec "{venv_bin}/gunicorn" '
        '-c python:app.gunicorn_conf --bind "${JUPYTERHUB_SERVICE_URL#http://}" '
        '--pid "$HUBCLASS_DATA_DIR/gunicorn.pid" wsgi:app',
    ],
    "cwd": str(repo),
    "environment": service_env,
    # Part of this Hub: no "authorize this service?" page at sign-in.
    "oauth_no_confirm": True,
}
if os.environ.get("HUBCLASS_SERVICE_API_TOKEN"):
    # Tests pin the service token so they can act with exactly the service's scopes.
    hubclass["api_token"] = os.environ["HUBCLASS_SERVICE_API_TOKEN"]
services = [hubclass]

roles = [
    {
        # The least the service needs: create/delete users, manage groups, start/stop servers,
        # and make tokens of the delivery account for deliveries through servers.
        "name": "hubclass-service",
        "scopes": ["admin:users", "admin:groups", "servers", f"tokens!user={DELIVERY_ACCOUNT}"],
        "services": ["hubclass"],
    },
    {
        # What each delivery's token is cut from (one student's server at a time); the Hub
        # creates the account from this role.
        "name": "hubclass-delivery",
        "scopes": ["access:servers"],
        "users": [DELIVERY_ACCOUNT],
    },
    {
        # Only instructors pass the Hub's authorize step for the service.
        "name": "hubclass-instructors",
        "scopes": ["access:services!service=hubclass"],
        "groups": ["instructors"],
    },
]

if os.environ.get("HUBCLASS_HUB_ADMIN_TOKEN"):
    # The test suite's own admin token, to set up users and groups as a Hub admin would.
    services.append({"name": "test-admin", "api_token": os.environ["HUBCLASS_HUB_ADMIN_TOKEN"]})
    roles.append(
        {
            "name": "test-admin",
            "scopes": [
                "admin:users",
                "admin:groups",
                "admin:servers",
                "access:servers",
                "tokens",
                "read:hub",
                "list:services",
            ],
            "services": ["test-admin"],
        }
    )
    # An admin in effect without the admin flag, through a role and through a group's role:
    # a roster must protect them like admins.
    roles.append(
        {
            "name": "test-user-admins",
            "scopes": ["admin:users"],
            "users": ["roleadmin"],
            "groups": ["user-admins"],
        }
    )
    # Some hubs let everyone reach every service; the suite checks Hubclass refuses them itself.
    roles.append(
        {
            "name": "test-service-visitors",
            "scopes": ["access:services!service=hubclass"],
            "groups": ["service-visitors"],
        }
    )

c.JupyterHub.services = services
c.JupyterHub.load_roles = roles
