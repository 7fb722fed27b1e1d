"""app/settings.py is what config reads, what the README lists and what the status page shows."""

from __future__ import annotations

import re

import pytest

from app.config import PUBLIC_SETTINGS, from_env
from app.courses.models import Course
from app.ops import status
from app.roster import MAX_ROWS, RosterError, imports
from app.settings import README_HEADER, SETTINGS, markdown_table, readme_row
from tests.conftest import REPO, hub_env
from tests.hubusers import roster_csv


def _cells(line: str) -> tuple[str, ...]:
    return tuple(cell.strip() for cell in line.strip().strip("|").split("|"))


def _readme_settings_table() -> list[tuple[str, ...]]:
    """The rows of README.md's settings table (the one headed by README_HEADER)."""
    lines = (REPO / "README.md").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if _cells(line) == README_HEADER)
    rows = []
    for line in lines[start + 2 :]:  # past the header and its --- row
        if not line.startswith("|"):
            break
        rows.append(_cells(line))
    return rows


def test_the_readme_settings_table_is_the_table_config_reads():
    expected = [readme_row(setting) for setting in SETTINGS]
    # A "|" in a cell would split it; an empty default would render as ``.
    assert all(cell and cell != "``" and "|" not in cell for row in expected for cell in row)
    assert _readme_settings_table() == expected, (
        "README.md's settings table differs from app/settings.py; paste this into the README:\n"
        + markdown_table()
    )


def test_every_hubclass_variable_the_app_names_is_in_the_table():
    named = set()
    for path in (REPO / "app").rglob("*"):
        if path.is_file() and path.suffix in {".py", ".html", ".js", ".css", ".txt"}:
            named |= set(re.findall(r"\bHUBCLASS_[A-Z0-9_]*[A-Z0-9]\b", path.read_text()))
    assert "HUBCLASS_ROSTER_MAX_ROWS" in named  # the search finds what it should
    assert named <= {setting.env for setting in SETTINGS}


class _Recording(dict):
    """An environment that notes every name asked for, however it is asked."""

    def __init__(self, values: dict[str, str]):
        super().__init__(values)
        self.asked: set[str] = set()

    def get(self, key, default=None):
        self.asked.add(key)
        return super().get(key, default)

    def __getitem__(self, key):
        self.asked.add(key)
        return super().__getitem__(key)

    def __contains__(self, key):
        self.asked.add(key)
        return super().__contains__(key)


def test_from_env_reads_every_variable_in_the_table_and_no_other(tmp_path):
    env = _Recording(hub_env(HUBCLASS_DATA_DIR=str(tmp_path)))
    from_env(env)
    assert env.asked == {setting.env for setting in SETTINGS}


def test_the_status_page_shows_exactly_the_settings_the_table_marks_shown(app):
    app.extensions["hubclass.hub"].sleep = lambda seconds: None  # its Hub is unreachable
    shown = status.collect().settings
    assert list(shown) == list(PUBLIC_SETTINGS)
    assert set(shown) == {setting.config_key for setting in SETTINGS if setting.shown}
    assert shown == {key: app.config[key] for key in shown}


def test_no_secret_reaches_the_status_page(tmp_path):
    secrets = {
        "JUPYTERHUB_API_TOKEN": "token-a1b2c3",
        "HUBCLASS_SECRET_KEY": "key-d4e5f6",
        "HUBCLASS_DATABASE_URL": "postgresql://hubclass:pw-g7h8i9@db/hubclass",
    }
    assert not any(setting.shown for setting in SETTINGS if setting.env in secrets)
    config = from_env(hub_env(HUBCLASS_DATA_DIR=str(tmp_path), **secrets))
    shown = repr({key: config[key] for key in PUBLIC_SETTINGS})
    for secret in ("token-a1b2c3", "key-d4e5f6", "pw-g7h8i9"):
        assert secret not in shown


def test_the_roster_row_cap_defaults_to_the_parsers_own_and_can_be_set(tmp_path):
    unset = hub_env(HUBCLASS_DATA_DIR=str(tmp_path))
    assert from_env(unset)["HUBCLASS_ROSTER_MAX_ROWS"] == MAX_ROWS
    set_ = hub_env(HUBCLASS_DATA_DIR=str(tmp_path), HUBCLASS_ROSTER_MAX_ROWS="50")
    assert from_env(set_)["HUBCLASS_ROSTER_MAX_ROWS"] == 50


def test_a_roster_over_the_configured_row_cap_is_refused_before_the_hub_is_asked(app):
    app.config["HUBCLASS_ROSTER_MAX_ROWS"] = 2
    app.extensions["hubclass.hub"].sleep = lambda seconds: None  # should it get that far
    course = Course(slug="cs101", title="CS 101", hub_group="course-cs101", created_by="t")
    with pytest.raises(RosterError, match="more than 2 rows"):
        imports.preview(course, roster_csv(["s1", "s2", "s3"]), "r.csv", actor="t")
