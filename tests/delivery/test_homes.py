"""Where a student's home is, and when Hubclass may write into it: only a real folder owned by
the student's own account."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.config import ConfigError, from_env, home_template
from app.delivery.homes import Home, account_name, home_path, open_home, tljh_account
from app.gitsync import ensure_mirror, sync
from tests.conftest import hub_env
from tests.delivery.kit import make_home


def test_the_tljh_preset_names_homes_as_tljh_does_and_shortens_long_names():
    # TLJH's own cases (tests of tljh/normalize.py): under 26 characters a name stays as it is;
    # from 26 on it is cut to 26 and gets "-" and 5 hex digits of the whole name's sha256.
    assert tljh_account("abcdefghijklmnopq") == "jupyter-abcdefghijklmnopq"
    assert tljh_account("abcdefghijklmnopqr") == "jupyter-abcdefghijklmnopqr-e375e"
    assert (
        tljh_account("aelie9sohjeequ9iemeipuimuoshahz4aitugiuteeg4ohioh5yuiha6aei7te5z")
        == "jupyter-aelie9sohjeequ9iem-4b726"
    )
    assert home_path("alice", "tljh") == Path("/home/jupyter-alice")
    assert account_name("alice", "tljh") == "jupyter-alice"
    assert home_path("alice", "/srv/homes/{username}/work") == Path("/srv/homes/alice/work")
    assert account_name("alice", "/srv/homes/{username}") == "alice"


@pytest.mark.parametrize(
    "value", ["home/{username}", "/home/alice", "/home/{user}", "/home/{username}/{0}", "/h/{"]
)
def test_a_home_template_must_be_an_absolute_path_naming_the_user_or_the_tljh_preset(value):
    with pytest.raises(ConfigError, match="HUBCLASS_HOME_TEMPLATE"):
        home_template(value)
    assert home_template("/home/{username}") == "/home/{username}"
    assert home_template("tljh") == "tljh"


def test_a_home_is_used_only_when_it_is_a_real_folder_of_the_students_own_account(
    homes: Path, make_students
):
    alice, bob = make_students(2)
    template = f"{homes}/{{username}}"

    def check(name: str) -> str:
        found = open_home(name, template)
        return "ok" if isinstance(found, Home) else found.code

    # No account (TLJH makes it at the first login), or no home yet: both wait.
    assert check("hcdnosuchuser") == "no_account"
    assert open_home("hcdnosuchuser", template).waiting
    assert check(alice.name) == "no_home"
    bob_home = make_home(homes, bob)
    assert open_home(bob.name, template) == Home(bob_home, bob.name, bob.uid)
    # A link to another's home would make Hubclass write as that other: refused, not waited for.
    (homes / alice.name).symlink_to(bob_home)
    assert check(alice.name) == "home_symlink"
    assert not open_home(alice.name, template).waiting
    (homes / alice.name).unlink()
    (homes / alice.name).mkdir()
    os.chown(homes / alice.name, bob.uid, bob.gid)
    assert check(alice.name) == "home_wrong_owner"
    assert "not to" in open_home(alice.name, template).message
    os.rmdir(homes / alice.name)
    (homes / alice.name).write_text("not a folder")
    assert check(alice.name) == "home_not_folder"
    assert check("../etc") == "name_invalid"


def test_the_engine_refuses_a_home_whose_owner_changed_after_it_was_checked(
    homes: Path, make_students, upstream, tmp_path: Path
):
    alice, bob = make_students(2)
    home = make_home(homes, alice)
    mirror = ensure_mirror(upstream.url, None, tmp_path / "mirrors")

    def deliver(owner: int) -> tuple[str, str | None]:
        report = sync(
            upstream.url, home / "hw1", allowed_prefixes=["file://"], mirror=mirror, owner=owner
        )
        return report.outcome, report.error_code

    assert deliver(bob.uid) == ("failed", "owner_changed")
    assert not (home / "hw1").exists()
    assert deliver(alice.uid) == ("cloned", None)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("HUBCLASS_DELIVERY_CONCURRENCY", "0"),
        ("HUBCLASS_DELIVERY_CONCURRENCY", "two"),
        ("HUBCLASS_DELIVERY_TIMEOUT_SECONDS", "-5"),
        ("HUBCLASS_HOME_TEMPLATE", "/home/user"),
    ],
)
def test_delivery_settings_that_cannot_work_stop_the_app_naming_the_variable(
    tmp_path: Path, name: str, value: str
):
    with pytest.raises(ConfigError, match=name):
        from_env(hub_env(HUBCLASS_DATA_DIR=str(tmp_path), **{name: value}))
    config = from_env(hub_env(HUBCLASS_DATA_DIR=str(tmp_path), HUBCLASS_HOME_TEMPLATE="tljh"))
    assert config["HUBCLASS_HOME_TEMPLATE"] == "tljh"
    assert config["HUBCLASS_DELIVERY_CONCURRENCY"] == 4
    assert config["HUBCLASS_DELIVERY_TIMEOUT_SECONDS"] == 300.0
