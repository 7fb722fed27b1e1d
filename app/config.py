"""Settings from the environment: the Hub's JUPYTERHUB_* variables and Hubclass's own HUBCLASS_*.

Each is read through the table in app/settings.py, which gives its default and meaning.
"""

from __future__ import annotations

import logging
import os
import pwd
import secrets
import stat
import string
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url

from .settings import SETTINGS, read

log = logging.getLogger(__name__)

# Scopes the service token needs, in the Hub's own (expanded) names. The deploy docs grant
# admin:users, admin:groups and servers; the Hub expands them into these.
REQUIRED_SCOPES = ("admin:users", "admin:groups", "servers")


class ConfigError(RuntimeError):
    """A setting is missing or wrong; the message names the variable and how to set it."""


HOW_TO_GET_HUB_VARS = (
    "A managed service gets it from the Hub when the Hub starts it (c.JupyterHub.services with "
    "a 'command'); an external service must be given it in its own environment (the service's "
    "api_token in jupyterhub_config.py, and the Hub's API URL, e.g. "
    "http://hub:8081/hub/api on Kubernetes). See docs/deploy.md."
)


def _required(env: Mapping[str, str], name: str) -> str:
    value = read(env, name)
    if not value:
        raise ConfigError(f"{name} is not set. {HOW_TO_GET_HUB_VARS}")
    return value


def _split_list(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def _with_slashes(prefix: str) -> str:
    prefix = "/" + prefix.strip("/")
    return prefix if prefix == "/" else prefix + "/"


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


# The one preset of HUBCLASS_HOME_TEMPLATE (see app/delivery/homes.py).
TLJH_PRESET = "tljh"


def home_template(value: str) -> str:
    """Check HUBCLASS_HOME_TEMPLATE: the `tljh` preset, or an absolute path with `{username}`."""
    if value == TLJH_PRESET:
        return value
    try:
        fields = [field for _, field, _, _ in string.Formatter().parse(value) if field is not None]
    except ValueError:
        fields = ["?"]
    if not value.startswith("/") or "{username}" not in value or set(fields) != {"username"}:
        raise ConfigError(
            f"HUBCLASS_HOME_TEMPLATE is {value!r}: give an absolute path in which {{username}} "
            "stands for the student (e.g. /home/{username}), or 'tljh' on The Littlest "
            "JupyterHub."
        )
    return value


# The ways a delivery may reach a student (HUBCLASS_DELIVERY; see app/delivery/ways.py).
DELIVERY_WAYS = ("auto", "home", "server")


def delivery_way(value: str) -> str:
    if value not in DELIVERY_WAYS:
        raise ConfigError(
            f"HUBCLASS_DELIVERY is {value!r}: give one of {', '.join(DELIVERY_WAYS)}."
        )
    return value


def proxy_url(value: str, public_hub_url: str) -> str | None:
    """The origin students' servers are reached at (HUBCLASS_PROXY_URL, else the public Hub
    URL's); None when neither gives one (deliveries through servers then say so)."""
    given = bool(value)
    parts = urlsplit(value or public_hub_url)
    if not (parts.scheme in ("http", "https") and parts.hostname):
        if given:
            raise ConfigError(
                f"HUBCLASS_PROXY_URL is {value!r}: give the proxy's http:// or https:// address, "
                "e.g. http://proxy-public."
            )
        return None
    if given and (parts.username or parts.password or parts.path.strip("/") or parts.query):
        # The path comes from the Hub's base URL; a password would be sent to every server.
        raise ConfigError(
            f"HUBCLASS_PROXY_URL is {value!r}: give only scheme, host and port (no path, "
            "query or password), e.g. http://proxy-public."
        )
    try:
        port = parts.port
    except ValueError:
        raise ConfigError(f"HUBCLASS_PROXY_URL is {value!r}: its port is not a number.") from None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}" + (f":{port}" if port else "")


def _positive(env: Mapping[str, str], name: str, kind: type[int] | type[float]) -> int | float:
    value = read(env, name)
    try:
        number = kind(value)
    except ValueError:
        number = 0
    if number <= 0:
        raise ConfigError(f"{name} is {value!r}: give a number above 0.")
    return number


# The uid and gid of the service account whose data dir a root worker uses (see
# HUBCLASS_SERVICE_USER), or None: the data dir is the running user's own.
DataOwner = tuple[int, int] | None


def service_account(name: str) -> DataOwner:
    """The account HUBCLASS_SERVICE_USER names, when this process is root; None otherwise.

    Only root acts for another account: a process run as the service account itself (the web)
    owns the data dir already, and any other account must not use it at all.
    """
    if not name or os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise ConfigError(
            f"HUBCLASS_SERVICE_USER is {name!r}, and there is no such account on this machine."
        ) from None
    if entry.pw_uid == 0:
        raise ConfigError(
            "HUBCLASS_SERVICE_USER names root: leave it empty when Hubclass runs as root alone."
        )
    return entry.pw_uid, entry.pw_gid


def ensure_private_data_dir(path: Path, owner: DataOwner = None) -> None:
    """Make the data dir 0700, or refuse an existing one that others may read or enter.

    It holds every roster (the SQLite database) and the session key. An existing directory is
    never chmodded here: if it was open, the admin should know, and decide what to do about
    what others may have read or put there. `owner`: the service account a root worker shares
    the data dir with (it must be theirs, and a new one is made theirs).
    """
    try:
        path.mkdir(parents=True, mode=0o700)
    except FileExistsError:
        pass
    else:
        path.chmod(0o700)  # mkdir's mode passes through the umask; make it exact
        if owner:
            os.chown(path, *owner, follow_symlinks=False)
        return
    info = path.stat()
    where = f"The data dir {path} (HUBCLASS_DATA_DIR)"
    if not stat.S_ISDIR(info.st_mode):
        raise ConfigError(f"{where} is not a directory.")
    expected = owner[0] if owner else os.geteuid()
    if info.st_uid != expected:
        # Its owner could swap the database or the session key whatever the mode says.
        found, me = _user_name(info.st_uid), _user_name(expected)
        runs = "HUBCLASS_SERVICE_USER names" if owner else "runs Hubclass"
        hint = ""
        if not owner and os.geteuid() == 0:
            hint = (
                f" (or, for a root worker beside a web process run as {found}: "
                f"HUBCLASS_SERVICE_USER={found})"
            )
        raise ConfigError(
            f"{where} belongs to {found}, not to {me} who {runs}. "
            f"Fix it with: chown {me} {path} && chmod 700 {path}{hint}"
        )
    if info.st_mode & 0o077:
        raise ConfigError(
            f"{where} has mode {stat.S_IMODE(info.st_mode):o}: other users of this machine can "
            f"read or enter it, and it holds every roster. Fix it with: chmod 700 {path}"
        )


def _give(fd: int, owner: DataOwner) -> None:
    """Give a file root just made in the service account's data dir to that account, so the
    web process (run as it) can read and write it too."""
    if owner:
        os.fchown(fd, *owner)


def ensure_private_sqlite_file(database_url: str, owner: DataOwner = None) -> None:
    """Create the SQLite database file 0600 before SQLite does, or make an existing one 0600.

    SQLite creates a database with 0644 (less the umask), and its -wal, -shm and -journal files
    with the database file's own mode: a private database file keeps all of them private,
    without touching the process umask (the git sync's student processes set their own).
    Run as root for the service account (`owner`), SQLite gives the -wal and -shm files it
    makes to the database file's owner itself (os_unix.c, robustFchown): so the file is theirs.
    """
    url = make_url(database_url)
    # A URI filename ("file:...") or an in-memory database is not a plain path to protect.
    name = url.database or ""
    if url.get_backend_name() != "sqlite" or name in ("", ":memory:") or name.startswith("file:"):
        return
    path = Path(name)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        _make_private(path, *(Path(f"{path}{suffix}") for suffix in ("-wal", "-shm", "-journal")))
    else:
        os.fchmod(fd, 0o600)  # the umask may have cut 0600 further, e.g. to a read-only 0400
        _give(fd, owner)
        os.close(fd)  # an empty file is a new, empty database to SQLite


def _make_private(*paths: Path) -> None:
    for path in paths:
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except FileNotFoundError:
            continue
        if mode & 0o077:
            path.chmod(0o600)
            log.warning("Made %s private: its mode was %o, readable by other users", path, mode)


def load_secret_key(data_dir: Path, owner: DataOwner = None) -> str:
    """Read the session key from the data dir, creating it once (0600) so restarts keep sessions."""
    path = data_dir / "secret_key"
    try:
        # O_EXCL: when several workers start at once, exactly one creates the file.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_text().strip()
        if not key:
            raise ConfigError(
                f"{path} is empty: delete it and restart to create a new key."
            ) from None
        return key
    key = secrets.token_hex(32)
    _give(fd, owner)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    return key


def from_env(env: Mapping[str, str] | None = None) -> dict:
    """Build the Flask config from the environment; raise ConfigError naming what is missing."""
    env = os.environ if env is None else env
    api_url = _required(env, "JUPYTERHUB_API_URL").rstrip("/")
    api_token = _required(env, "JUPYTERHUB_API_TOKEN")
    service_name = read(env, "JUPYTERHUB_SERVICE_NAME")
    prefix = _with_slashes(read(env, "JUPYTERHUB_SERVICE_PREFIX") or f"/services/{service_name}/")
    base_url = _with_slashes(read(env, "JUPYTERHUB_BASE_URL"))
    public_hub_url = read(env, "JUPYTERHUB_PUBLIC_HUB_URL")
    # Without public_url the Hub passes empty JUPYTERHUB_PUBLIC_* variables. A path relative to
    # the proxy root still works for the browser, since the service is served by the same proxy.
    hub_url = public_hub_url.rstrip("/") + "/" if public_hub_url else base_url + "hub/"
    public_url = read(env, "JUPYTERHUB_PUBLIC_URL")

    data_dir = Path(read(env, "HUBCLASS_DATA_DIR")).resolve()
    owner = service_account(read(env, "HUBCLASS_SERVICE_USER"))
    ensure_private_data_dir(data_dir, owner)
    database_url = read(env, "HUBCLASS_DATABASE_URL") or f"sqlite:///{data_dir / 'hubclass.sqlite'}"
    if database_url.startswith("postgresql://"):
        # SQLAlchemy's bare postgresql:// means psycopg2; we ship psycopg 3.
        database_url = "postgresql+psycopg://" + database_url.removeprefix("postgresql://")
    secret_key = read(env, "HUBCLASS_SECRET_KEY") or load_secret_key(data_dir, owner)

    return {
        "SECRET_KEY": secret_key,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        # Session cookie of our own: its own name and path, so it never meets the Hub's cookies
        # or a student's server on the same origin.
        "SESSION_COOKIE_NAME": "hubclass-session",
        "SESSION_COOKIE_PATH": prefix,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": (public_url or public_hub_url).startswith("https://"),
        "MAX_CONTENT_LENGTH": int(read(env, "HUBCLASS_MAX_UPLOAD_BYTES")),
        "WTF_CSRF_TIME_LIMIT": None,
        "HUB_API_URL": api_url,
        "HUB_API_TOKEN": api_token,
        "HUB_URL": hub_url,
        "HUB_SERVICE_NAME": service_name,
        "HUB_SERVICE_PREFIX": prefix,
        "HUB_CLIENT_ID": read(env, "JUPYTERHUB_CLIENT_ID") or f"service-{service_name}",
        "HUB_OAUTH_CALLBACK_URL": read(env, "JUPYTERHUB_OAUTH_CALLBACK_URL")
        or f"{prefix}oauth_callback",
        "HUB_AUTH_CACHE_SECONDS": int(read(env, "HUBCLASS_AUTH_CACHE_SECONDS")),
        "HUBCLASS_DATA_DIR": str(data_dir),
        "HUBCLASS_SERVICE_USER": read(env, "HUBCLASS_SERVICE_USER"),
        # Root working in the service account's data dir: what it makes there is theirs.
        "DATA_DIR_OWNER": owner,
        "HUBCLASS_INSTRUCTOR_GROUPS": _split_list(read(env, "HUBCLASS_INSTRUCTOR_GROUPS")),
        "HUBCLASS_ALLOWED_REPO_URLS": _split_list(read(env, "HUBCLASS_ALLOWED_REPO_URLS")),
        # None: the built-in pattern (app/roster/usernames.py).
        "HUBCLASS_USERNAME_PATTERN": read(env, "HUBCLASS_USERNAME_PATTERN") or None,
        "HUBCLASS_ROSTER_MAX_ROWS": int(read(env, "HUBCLASS_ROSTER_MAX_ROWS")),
        "HUBCLASS_POLL_SECONDS": float(read(env, "HUBCLASS_POLL_SECONDS")),
        # Background worker threads in each web process; 0: none (`flask --app wsgi worker` runs
        # the work in processes of its own, or nobody does).
        "HUBCLASS_WORKERS": int(read(env, "HUBCLASS_WORKERS")),
        "HUBCLASS_HOME_TEMPLATE": home_template(read(env, "HUBCLASS_HOME_TEMPLATE")),
        "HUBCLASS_DELIVERY_TIMEOUT_SECONDS": _positive(
            env, "HUBCLASS_DELIVERY_TIMEOUT_SECONDS", float
        ),
        "HUBCLASS_MAX_REPO_BYTES": _positive(env, "HUBCLASS_MAX_REPO_BYTES", int),
        "HUBCLASS_MAX_REPO_ENTRIES": _positive(env, "HUBCLASS_MAX_REPO_ENTRIES", int),
        "HUBCLASS_DELIVERY_CONCURRENCY": _positive(env, "HUBCLASS_DELIVERY_CONCURRENCY", int),
        "HUBCLASS_DELIVERY": delivery_way(read(env, "HUBCLASS_DELIVERY")),
        "HUBCLASS_DELIVERY_ACCOUNT": read(env, "HUBCLASS_DELIVERY_ACCOUNT"),
        # Only HUBCLASS_DELIVERY=server falls back to the public Hub URL: under `auto` a
        # process that is not root (shape B's web) must not start delivering through servers
        # because the Hub happens to have a public_url.
        "HUBCLASS_PROXY_URL": proxy_url(
            read(env, "HUBCLASS_PROXY_URL"),
            public_hub_url if read(env, "HUBCLASS_DELIVERY") == "server" else "",
        ),
        "HUBCLASS_SERVER_CONCURRENCY": _positive(env, "HUBCLASS_SERVER_CONCURRENCY", int),
        # Where the Hub's pages and servers live under the proxy (servers: <base>user/<name>/).
        "HUB_BASE_URL": base_url,
    }


# Shown on the status page (app/status.py), from the table's `shown`; everything else (tokens,
# secret key, database password) stays hidden. Several Hub variables feed HUB_URL: listed once.
PUBLIC_SETTINGS = tuple(dict.fromkeys(s.config_key for s in SETTINGS if s.shown))
