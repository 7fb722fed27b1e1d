"""A throwaway PostgreSQL server for the suite: Debian's binaries, a temp cluster, loopback only."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
import psycopg.sql

from demo.launch import free_port


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}")) or (
        [shutil.which(name)] if shutil.which(name) else []
    )
    if not found:
        raise RuntimeError(
            f"PostgreSQL's {name} is not installed. Run `make test` (it installs the "
            "postgresql package when root) or `apt-get install postgresql`."
        )
    return found[-1]


class PostgresServer:
    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="hubclass-pg-"))
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        # initdb refuses to run as root: the cluster belongs to the postgres system user then.
        self.user = "postgres" if os.getuid() == 0 else None

    def _run_as(self) -> dict:
        if self.user is None:
            return {}
        entry = pwd.getpwnam(self.user)
        return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}

    def start(self) -> PostgresServer:
        data = self.root / "data"
        self.root.chmod(0o755)
        if self.user:
            entry = pwd.getpwnam(self.user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        subprocess.run(
            [_bin("initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
            check=True,
            capture_output=True,
            **self._run_as(),
        )
        log = open(self.root / "server.log", "wb")  # noqa: SIM115 - the child keeps its own copy
        self.process = subprocess.Popen(
            [
                _bin("postgres"),
                "-D", str(data),
                "-h", "127.0.0.1",
                "-p", str(self.port),
                "-k", str(self.root),
                "-c", "fsync=off",
                "-c", "full_page_writes=off",
            ],
            stdout=subprocess.DEVNULL,
            stderr=log,
            **self._run_as(),
        )  # fmt: skip
        log.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                psycopg.connect(self.url("postgres"), connect_timeout=2).close()
                return self
            except psycopg.OperationalError:
                time.sleep(0.2)
        raise RuntimeError(f"PostgreSQL did not start; see {self.root / 'server.log'}")

    def url(self, database: str, driver: str = "") -> str:
        scheme = "postgresql+psycopg" if driver == "sqlalchemy" else "postgresql"
        return f"{scheme}://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """Create an empty database and return its SQLAlchemy URL."""
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name, driver="sqlalchemy")

    def password_role(self, role: str, password: str) -> None:
        """A role that must give its password (scram-sha-256) over TCP; every other role of the
        server keeps trust. It may create databases (and owns those it makes)."""
        hba = self.root / "data" / "pg_hba.conf"
        hba.write_text(f"host all {role} 127.0.0.1/32 scram-sha-256\n" + hba.read_text())
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(
                psycopg.sql.SQL("CREATE ROLE {} LOGIN CREATEDB PASSWORD {}").format(
                    psycopg.sql.Identifier(role), psycopg.sql.Literal(password)
                )
            )
            conn.execute("SELECT pg_reload_conf()")

    def create_database_of(self, name: str, role: str) -> None:
        """An empty database owned by `role`."""
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}" OWNER "{role}"')

    def log_text(self) -> str:
        return (self.root / "server.log").read_text(errors="replace")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(30)
        shutil.rmtree(self.root, ignore_errors=True)
