"""PostgreSQL's own tools: pg_dump for a consistent copy while the service runs (one snapshot
of one transaction), pg_restore to put a custom-format one into a database (plain SQL is
restored by hand only: psql would obey its meta-commands).

The database password never reaches a command line (other accounts read it in `ps`), a URL or
a log: the child finds it in a 0600 passfile of a private temporary folder, removed after.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import URL

from .errors import BackupError

# Debian's packages install every major version side by side; /usr/bin's are wrappers.
DEBIAN_BIN = "/usr/lib/postgresql/*/bin/{name}"
# pg_dump's formats this command writes: custom (pg_restore reads it), plain SQL (psql does).
FORMATS = ("custom", "plain")
# What a child may inherit from the admin's shell that would change whose password it uses.
PASSWORD_VARIABLES = ("PGPASSWORD", "PGPASSFILE")


def _version(path: str) -> tuple[int, ...]:
    # /usr/lib/postgresql/16/bin/pg_dump -> (16,); numbers, so 16 is newer than 9.6.
    found = re.fullmatch(r"[0-9]+(\.[0-9]+)*", Path(path).parent.parent.name)
    return tuple(int(part) for part in found.group().split(".")) if found else (0,)


def find_tool(name: str) -> str:
    """The newest installed PostgreSQL program `name` (pg_dump refuses a server newer than
    itself), Debian's versioned ones first, else the one on PATH."""
    versioned = glob.glob(DEBIAN_BIN.format(name=name))
    if versioned:
        return max(versioned, key=_version)
    on_path = shutil.which(name)
    if on_path:
        return on_path
    raise BackupError(
        "pg_missing",
        f"PostgreSQL's {name} is not installed here (looked in "
        f"{DEBIAN_BIN.format(name=name)} and on PATH). Install the client programs of your "
        "server's version or newer (Debian/Ubuntu: apt-get install postgresql-client).",
    )


def _quoted(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


# The query key of a URL that carries the password (`...?password=...` works with psycopg): it
# goes to the passfile, never into the program's --dbname, which every local user sees in `ps`.
SECRET_KEYS = ("password",)


def _query(url: URL) -> dict[str, str]:
    return {key: given if isinstance(given, str) else given[0] for key, given in url.query.items()}


def password_of(url: URL) -> str | None:
    """The URL's password, given before the host or as a query parameter."""
    if url.password is not None:
        return str(url.password)
    return _query(url).get("password")


def conninfo(url: URL) -> str:
    """libpq's keyword form of the database URL, without its password."""
    keywords = {k: v for k, v in _query(url).items() if k not in SECRET_KEYS}
    parts = {"host": url.host, "port": url.port, "user": url.username, "dbname": url.database}
    keywords.update({key: str(value) for key, value in parts.items() if value is not None})
    return " ".join(f"{key}={_quoted(value)}" for key, value in keywords.items())


def _passfile_line(password: str) -> str:
    if "\n" in password or "\r" in password:
        raise BackupError("pg_password", "The database password holds a line break.")
    escaped = password.replace("\\", "\\\\").replace(":", "\\:")
    return f"*:*:*:*:{escaped}\n"


@contextmanager
def child_env(url: URL) -> Iterator[dict[str, str]]:
    """The environment of a PostgreSQL program connecting as the service does: the URL's
    password, if it has one, in a 0600 passfile named by PGPASSFILE."""
    env = dict(os.environ)
    password = password_of(url)
    if password is None:
        yield env  # the admin's own way (~/.pgpass, PGPASSWORD, peer): left as it is
        return
    for name in PASSWORD_VARIABLES:
        env.pop(name, None)  # PGPASSWORD would win over the passfile
    folder = tempfile.mkdtemp(prefix="hubclass-pg-")  # 0700
    try:
        path = os.path.join(folder, "passfile")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(_passfile_line(password))
        env["PGPASSFILE"] = path
        yield env
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _run(argv: list[str], url: URL, what: str) -> None:
    with child_env(url) as env:
        done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        # libpq's and pg_dump's messages name the host, role and database, never a password.
        raise BackupError("pg_failed", f"{what} failed: {done.stderr.strip() or done.stdout}")


def dump(url: URL, dest: Path, fmt: str) -> None:
    """Write the database to `dest` with pg_dump (objects without owners or grants: they are
    restored as the role that restores them)."""
    argv = [find_tool("pg_dump"), f"--format={fmt}", "--no-owner", "--no-privileges"]
    if fmt == "plain":
        argv += ["--clean", "--if-exists"]  # psql then replaces what a database holds
    _run([*argv, f"--file={dest}", f"--dbname={conninfo(url)}"], url, "pg_dump")


def restore(url: URL, src: Path) -> None:
    """Load a custom-format dump into the database in one transaction (an error changes
    nothing), replacing the tables of the same names. Never a plain SQL file through psql:
    psql obeys its meta-commands (a `\\!` line runs a shell as the restoring account, root
    here), so whoever could alter the backup would own the machine."""
    argv = [
        find_tool("pg_restore"),
        "--single-transaction",
        "--exit-on-error",
        "--no-owner",
        "--no-privileges",
        "--clean",
        "--if-exists",
        f"--dbname={conninfo(url)}",
        str(src),
    ]
    _run(argv, url, "pg_restore")
