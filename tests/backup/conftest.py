"""Fixtures for backups: the delivery tests' real students, homes and upstream, and a database
of either kind per data dir."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import hub_env, real_hub_env
from tests.delivery.conftest import delivery_env, homes, make_students, upstream

__all__ = ["homes", "make_students", "upstream"]

EnvMaker = Callable[[str], dict[str, str]]
ON_BOTH = pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])


def _with_database(request, tmp_path: Path, name: str, env: dict[str, str]) -> dict[str, str]:
    """On PostgreSQL, `env` with a new database of its own; on SQLite the data dir's."""
    if request.param == "postgresql":
        server = request.getfixturevalue("postgres")
        env["HUBCLASS_DATABASE_URL"] = server.create_database(f"{name}_{tmp_path.name[-30:]}")
    return env


@ON_BOTH
def service_env(request, hub, homes: Path, tmp_path: Path) -> EnvMaker:
    """`service_env(name)`: the environment of a Hubclass whose data dir is `<tmp>/<name>`, on
    the real test Hub, with this test's homes; on PostgreSQL, each its own new database."""

    def make(name: str) -> dict[str, str]:
        data_dir = tmp_path / name
        env = delivery_env(homes, data_dir, real_hub_env(hub, data_dir))
        return _with_database(request, tmp_path, name, env)

    return make


@ON_BOTH
def plain_env(request, tmp_path: Path) -> EnvMaker:
    """`plain_env(name)`: like `service_env`, with no Hub (unreachable) and no homes."""

    def make(name: str) -> dict[str, str]:
        env = hub_env(HUBCLASS_DATA_DIR=str(tmp_path / name))
        return _with_database(request, tmp_path, name, env)

    return make
