"""Every environment variable Hubclass reads, in one table: its default, meaning and visibility.

config.from_env reads each variable through this table, the status page shows the settings marked
`shown`, and tests/test_settings.py holds README.md's settings table to it, so the code, the docs
and the status page have one list to agree on. markdown_table() writes the README's copy.

Pure: it imports nothing of Flask or the app, and reads the environment only when asked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Setting:
    """One environment variable: where from_env puts it, and what the README says about it.

    `default` is what from_env uses when the variable is unset or empty, spelled as in the
    environment; it is empty where there is none, or where config.py works it out from other
    values (the data dir, the service name), and `default_words` then says how, in the README's
    words. `shown`: the status page lists `config_key`'s value. Never for a secret: whoever may
    see the status page (instructors too) would see it; hence off unless a row says so.
    """

    env: str
    config_key: str  # the Flask config key it ends up in (the main one, where it feeds several)
    meaning: str
    default: str = ""
    default_words: str = ""
    shown: bool = False

    @property
    def documented_default(self) -> str:
        return self.default_words or f"`{self.default}`"


# The Hub's variables first (a managed service gets them from the Hub), then Hubclass's own.
SETTINGS = (
    Setting(
        "JUPYTERHUB_API_URL",
        "HUB_API_URL",
        "the Hub API, e.g. `http://127.0.0.1:8081/hub/api`",
        default_words="none: required",
        shown=True,
    ),
    Setting(
        "JUPYTERHUB_API_TOKEN",
        "HUB_API_TOKEN",
        "the service's token (also its OAuth client secret)",
        default_words="none: required",
    ),
    Setting(
        "JUPYTERHUB_PUBLIC_HUB_URL",
        "HUB_URL",
        "where browsers reach the Hub's pages (sign-in, home); `https://` makes the session "
        "cookie Secure",
        default_words="none: `hub/` under the base URL",
        shown=True,
    ),
    Setting(
        "JUPYTERHUB_BASE_URL",
        "HUB_URL",
        "the proxy's base path; the Hub's pages are at `hub/` under it",
        default="/",
        shown=True,
    ),
    Setting(
        "JUPYTERHUB_PUBLIC_URL",
        "SESSION_COOKIE_SECURE",
        "where browsers reach the proxy; `https://` makes the session cookie Secure",
        default_words="none",
        shown=True,
    ),
    Setting(
        "JUPYTERHUB_SERVICE_NAME",
        "HUB_SERVICE_NAME",
        "the service's name in the Hub",
        default="hubclass",
        shown=True,
    ),
    Setting(
        "JUPYTERHUB_SERVICE_PREFIX",
        "HUB_SERVICE_PREFIX",
        "the path the proxy serves Hubclass under; also the session cookie's path",
        default_words="`/services/<service name>/`",
        shown=True,
    ),
    Setting(
        "JUPYTERHUB_CLIENT_ID",
        "HUB_CLIENT_ID",
        "the service's OAuth client id",
        default_words="`service-<service name>`",
        shown=True,
    ),
    Setting(
        "JUPYTERHUB_OAUTH_CALLBACK_URL",
        "HUB_OAUTH_CALLBACK_URL",
        "where the Hub sends a browser back after sign-in",
        default_words="`<service prefix>oauth_callback`",
        shown=True,
    ),
    Setting(
        "HUBCLASS_DATA_DIR",
        "HUBCLASS_DATA_DIR",
        "database, session key, git mirrors; must be 0700 (made so if missing)",
        default="./data",
        shown=True,
    ),
    Setting(
        "HUBCLASS_SERVICE_USER",
        "HUBCLASS_SERVICE_USER",
        "for a `flask --app wsgi worker` run as root beside a web process run as this account: "
        "the data dir is that account's, and root does its work there as that account",
        default_words="none",
        shown=True,
    ),
    Setting(
        "HUBCLASS_DATABASE_URL",
        "SQLALCHEMY_DATABASE_URI",
        "e.g. `postgresql://user:pw@host/db`",
        default_words="SQLite in the data dir",
    ),
    Setting(
        "HUBCLASS_SECRET_KEY",
        "SECRET_KEY",
        "signs session cookies",
        default_words="a 0600 file made once in the data dir",
    ),
    Setting(
        "HUBCLASS_INSTRUCTOR_GROUPS",
        "HUBCLASS_INSTRUCTOR_GROUPS",
        "Hub groups whose members may use Hubclass and create courses (Hub admins may too; a "
        "course's teaching staff use that course only)",
        default="instructors",
        shown=True,
    ),
    Setting(
        "HUBCLASS_ALLOWED_REPO_URLS",
        "HUBCLASS_ALLOWED_REPO_URLS",
        "prefixes a repository URL must start with",
        default="https://github.com/,https://gitlab.com/",
        shown=True,
    ),
    Setting(
        "HUBCLASS_USERNAME_PATTERN",
        "HUBCLASS_USERNAME_PATTERN",
        "regular expression roster usernames must match",
        default_words="strict built-in",
        shown=True,
    ),
    Setting(
        "HUBCLASS_ROSTER_MAX_ROWS",
        "HUBCLASS_ROSTER_MAX_ROWS",
        "the largest number of rows a roster file may have",
        default="20000",  # app/roster/parse.py's MAX_ROWS; tests/test_settings.py holds them equal
    ),
    Setting(
        "HUBCLASS_MAX_UPLOAD_BYTES",
        "MAX_CONTENT_LENGTH",
        "largest upload accepted",
        default=str(16 * 1024 * 1024),
        default_words="16 MiB",
        shown=True,
    ),
    Setting(
        "HUBCLASS_AUTH_CACHE_SECONDS",
        "HUB_AUTH_CACHE_SECONDS",
        "how long a token or instructor check is trusted for reads before asking the Hub again "
        "(writes always ask)",
        default="60",
        shown=True,
    ),
    Setting(
        "HUBCLASS_POLL_SECONDS",
        "HUBCLASS_POLL_SECONDS",
        "how often the Hub's users and activity are copied for the dashboard, and deliveries "
        "waiting for a home or for students who joined later are looked for",
        default="60",
        shown=True,
    ),
    Setting(
        "HUBCLASS_WORKERS",
        "HUBCLASS_WORKERS",
        "how many background worker threads in each web process; 0: none (run "
        "`flask --app wsgi worker` instead)",
        default="1",
        shown=True,
    ),
    Setting(
        "HUBCLASS_HOME_TEMPLATE",
        "HUBCLASS_HOME_TEMPLATE",
        "where a student's home is on this machine, `{username}` standing for the Hub user; "
        "`tljh`: The Littlest JupyterHub's `/home/jupyter-<name>`, long names shortened as TLJH "
        "does. Delivery writes into a home only when it is a folder owned by the student",
        default="/home/{username}",
        shown=True,
    ),
    Setting(
        "HUBCLASS_DELIVERY_TIMEOUT_SECONDS",
        "HUBCLASS_DELIVERY_TIMEOUT_SECONDS",
        "the longest one student's delivery (and the course repository's fetch) may take",
        default="300",
        shown=True,
    ),
    Setting(
        "HUBCLASS_MAX_REPO_BYTES",
        "HUBCLASS_MAX_REPO_BYTES",
        "the most an assignment's branch may hold, all its files together: each student's home "
        "gets a copy, so a larger repository is refused when it is fetched, before any delivery",
        default=str(1 << 30),  # app/gitsync/mirror.py's DEFAULT_MAX_TREE_BYTES
        default_words="1 GiB",
        shown=True,
    ),
    Setting(
        "HUBCLASS_MAX_REPO_ENTRIES",
        "HUBCLASS_MAX_REPO_ENTRIES",
        "the most files and folders an assignment's branch may have (refused as above)",
        default="100000",  # app/gitsync/mirror.py's DEFAULT_MAX_TREE_ENTRIES
        shown=True,
    ),
    Setting(
        "HUBCLASS_DELIVERY_CONCURRENCY",
        "HUBCLASS_DELIVERY_CONCURRENCY",
        "how many deliveries into homes each worker runs at once",
        default="4",
        shown=True,
    ),
    Setting(
        "HUBCLASS_DELIVERY",
        "HUBCLASS_DELIVERY",
        "how deliveries reach students: `home` (into their home on this machine, as them; needs a "
        "root worker), `server` (through nbgitpuller in their running server, as on Kubernetes), "
        "`auto` (as root: the home when it is on this machine, else the running server; not "
        "root: the running server)",
        default="auto",
        shown=True,
    ),
    Setting(
        "HUBCLASS_DELIVERY_ACCOUNT",
        "HUBCLASS_DELIVERY_ACCOUNT",
        "the Hub account that owns the short-lived tokens of deliveries through servers; it "
        "needs a role with `access:servers`, the service `tokens!user=<it>`, and nobody may sign "
        "in as it (docs/deploy.md)",
        default="hubclass-delivery",
        shown=True,
    ),
    Setting(
        "HUBCLASS_PROXY_URL",
        "HUBCLASS_PROXY_URL",
        "where Hubclass reaches students' servers: the Hub's proxy, e.g. `http://proxy-public` on "
        "Zero to JupyterHub",
        default_words="with `HUBCLASS_DELIVERY=server`, the origin of `JUPYTERHUB_PUBLIC_HUB_URL`; "
        "else none (`auto` delivers through servers only when this is set)",
        shown=True,
    ),
    Setting(
        "HUBCLASS_SERVER_CONCURRENCY",
        "HUBCLASS_SERVER_CONCURRENCY",
        "how many deliveries through servers each worker runs at once (they wait on the "
        "servers, not on this machine)",
        default="16",
        shown=True,
    ),
)

_BY_ENV = {setting.env: setting for setting in SETTINGS}


def read(env: Mapping[str, str], name: str) -> str:
    """Return the variable's value, stripped, or its default when it is unset or empty.

    A name that is not in the table is a KeyError: from_env cannot read a variable the README
    does not list.
    """
    return env.get(name, "").strip() or _BY_ENV[name].default


README_HEADER = ("variable", "default", "meaning", "status page")


def readme_row(setting: Setting) -> tuple[str, str, str, str]:
    shown = f"`{setting.config_key}`" if setting.shown else "not shown"
    return (f"`{setting.env}`", setting.documented_default, setting.meaning, shown)


def markdown_table() -> str:
    """The README's settings table, one row a variable."""
    rows = [README_HEADER, tuple("---" for _ in README_HEADER), *map(readme_row, SETTINGS)]
    return "\n".join("| " + " | ".join(row) + " |" for row in rows)
