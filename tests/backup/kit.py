"""Helpers for the backup tests: apps on a given environment, the real command line, and what
a student's home holds."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Flask
from flask_migrate import upgrade

from app import create_app
from app.config import from_env
from app.extensions import db
from tests.conftest import run_flask


@contextmanager
def app_on(env: dict[str, str], *, migrated: bool = True) -> Iterator[Flask]:
    """An app made from `env`, inside its app context; its database migrated if asked."""
    application = create_app(from_env(env))
    application.config["TESTING"] = True
    with application.app_context():
        if migrated:
            upgrade()
        try:
            yield application
        finally:
            db.session.remove()
            db.engine.dispose()


def flask(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """`flask --app wsgi ARGS` as the admin runs it, in a shell with only `env`."""
    return run_flask({"PATH": os.environ["PATH"], **env}, *args)


def home_state(home: Path) -> dict[str, object]:
    """Everything of a home a second delivery could change: each file's bytes outside .git
    (and each entry's name, so a folder moved aside or a temporary one shows), the inodes of
    the assignment's folder and of its .git (a second clone makes new ones)."""
    found: dict[str, object] = {}
    for root, dirs, files in os.walk(home):
        dirs[:] = [d for d in dirs if d != ".git"]
        for name in dirs:
            found[os.path.relpath(Path(root) / name, home) + "/"] = "folder"
        for name in files:
            path = Path(root) / name
            found[os.path.relpath(path, home)] = path.read_bytes()
    for folder in (home / "hw1", home / "hw1" / ".git"):
        found[f"inode of {folder.relative_to(home)}"] = folder.stat().st_ino
    return found
