"""Where a student's home is, and when Hubclass may write into it: only a real folder owned by
the student's own account."""

from __future__ import annotations

import grp
import os
import pwd
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.config import ConfigError, from_env, home_template
from app.delivery.homes import (
    PRIVILEGED_GROUPS,
    Home,
    NoHome,
    account_name,
    home_path,
    open_home,
    tljh_account,
)
from app.gitsync import ensure_mirror, sync
from tests.conftest import hub_env
from tests.delivery.kit import make_home
from tests.gitsync.conftest import Student, _remove_user


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


@pytest.fixture
def system_user() -> Iterator[Student]:
    """A real system account (useradd --system: a uid below UID_MIN), removed after the test."""
    if os.geteuid() != 0:
        pytest.skip("needs root to create real users")
    name = f"hcdsys{secrets.token_hex(3)}"
    options = ["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "--user-group"]
    subprocess.run(["useradd", *options, name], check=True)
    entry = pwd.getpwnam(name)
    user = Student(name, entry.pw_uid, entry.pw_gid)
    try:
        yield user
    finally:
        _remove_user(user)


def refusal(username: str, template: str) -> NoHome:
    found = open_home(username, template)
    assert isinstance(found, NoHome), found
    assert not found.waiting, found  # refused at once: waiting would never end
    return found


def test_a_system_account_is_refused_by_the_rule_of_the_roster(homes: Path, system_user):
    make_home(homes, system_user)

    refused = refusal(system_user.name, f"{homes}/{{username}}")

    assert refused.code == "system_account"
    assert (
        f"The account {system_user.name!r} gets no deliveries: {system_user.name!r} is a system "
        f"account of this machine (uid {system_user.uid})"
    ) in refused.message


def test_an_account_in_a_privileged_group_is_refused_naming_the_group(homes: Path, make_students):
    (alice,) = make_students(1)
    home = make_home(homes, alice)
    template = f"{homes}/{{username}}"
    assert {"root", "sudo", "wheel", "adm", "jupyterhub-admins", "docker", "lxd"} <= set(
        PRIVILEGED_GROUPS
    )
    present = [name for name in ("root", "sudo", "adm", "disk") if _group_exists(name)]
    assert present, "this machine has none of the groups to test with"

    for group in present:
        subprocess.run(["usermod", "--append", "--groups", group, alice.name], check=True)
        try:
            refused = refusal(alice.name, template)
        finally:
            subprocess.run(["gpasswd", "--delete", alice.name, group], capture_output=True)
        assert refused.code == "privileged_group"
        assert f"{alice.name!r} is in the group {group!r}" in refused.message
    assert open_home(alice.name, template) == Home(home, alice.name, alice.uid)


def _group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
    except KeyError:
        return False
    return True


def test_a_home_others_can_write_into_is_refused_saying_how_to_fix_it(homes: Path, make_students):
    (alice,) = make_students(1)
    home = make_home(homes, alice)
    template = f"{homes}/{{username}}"

    for mode in (0o775, 0o757, 0o1777, 0o770):
        home.chmod(mode)
        refused = refusal(alice.name, template)
        assert refused.code == "home_writable"
        assert f"mode {mode & 0o7777:04o}" in refused.message
        assert f"chmod go-w {home}" in refused.message
    home.chmod(0o755)
    assert open_home(alice.name, template) == Home(home, alice.name, alice.uid)


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
