"""System accounts are never students: a student's server would run as them (issue 8, item 4).

On single-machine hubs a Hub user is the system user of the same name. Names are refused when
they are a system account of the machine (uid below UID_MIN of /etc/login.defs, nobody and the
16-bit range above UID_MAX) or on the built-in list of Debian/Ubuntu/RHEL system accounts.
"""

from __future__ import annotations

import os
import pwd
import secrets
import subprocess
from collections.abc import Iterator

import pytest

from app.roster import parse_roster
from app.roster.accounts import (
    BUILTIN_ONLY,
    LOGIN_DEFS,
    SystemAccounts,
    parse_passwd,
    system_accounts,
    this_machine,
    uid_range,
)
from tests.roster.rosterkit import plan_for


def plan_of(names: list[str], accounts: SystemAccounts = BUILTIN_ONLY) -> dict:
    data = ("email,name\n" + "".join(f"{n}@example.edu,{n.title()}\n" for n in names)).encode()
    return plan_for(parse_roster(data, "roster.csv"), accounts=accounts).to_json()


def reasons(plan: dict) -> dict[str, str]:
    return {i["value"].split("@")[0]: i["reason"] for i in plan["invalid"]}


BUILTIN_SYSTEM = (
    "'{}' is a system account of Debian, Ubuntu or RHEL: on a single-machine Hub a student's "
    "server would run as it"
)


@pytest.mark.parametrize(
    "name",
    [
        # The accounts the roster accepted before (issue 8), then the rest of the base systems.
        "games", "man", "lp", "mail", "news", "uucp", "proxy", "backup", "list", "irc", "_apt",
        "messagebus", "polkitd", "systemd-timesync",
        "root", "daemon", "bin", "sys", "sync", "www-data", "gnats", "nobody", "sshd", "syslog",
        "adm", "operator", "halt", "shutdown", "dbus", "postgres", "systemd-coredump",
    ],
)  # fmt: skip
def test_builtin_system_accounts_are_refused_with_the_reason(name):
    plan = plan_of([name, "ann"])

    assert plan["add"] == ["ann"]
    assert reasons(plan) == {name: BUILTIN_SYSTEM.format(name)}


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("ubuntu", "the sudo-capable default account of cloud images"),
        ("admin", "the sudo-capable default account of cloud images"),
        ("ec2-user", "the sudo-capable default account of cloud images"),
        ("sudo", "a privileged system group"),
        ("wheel", "a privileged system group"),
        ("jupyterhub", "reserved for the Hub and its services"),
    ],
)
def test_cloud_users_groups_and_hub_names_are_refused_with_their_own_reason(name, why):
    assert why in reasons(plan_of([name]))[name]


PASSWD = """\
root:x:0:0:root:/root:/bin/bash
games:x:5:60:games:/usr/games:/usr/sbin/nologin
hcsvc:x:777:777::/nonexistent:/usr/sbin/nologin
ann:x:1001:1001:Ann:/home/ann:/bin/bash
lowann:x:600:600:Low Ann:/home/lowann:/bin/bash
dyn:x:61200:61200:dynamic user:/:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
aduser:x:1234567:1234567:AD user through sssd:/home/aduser:/bin/bash
broken line
"""


def test_the_machines_system_accounts_are_refused_with_their_uid():
    accounts = system_accounts(parse_passwd(PASSWD), None)

    plan = plan_of(["hcsvc", "games", "dyn", "nobody", "ann", "aduser"], accounts)

    # Directory users (AD/LDAP uids above 65535) are people, whatever UID_MAX says.
    assert plan["add"] == ["ann", "aduser"]
    assert reasons(plan) == {
        "hcsvc": "'hcsvc' is a system account of this machine (uid 777): a student's server "
        "would run as it",
        "games": "'games' is a system account of this machine (uid 5): a student's server "
        "would run as it",
        "dyn": "'dyn' is a system account of this machine (uid 61200): a student's server "
        "would run as it",
        "nobody": "'nobody' is a system account of this machine (uid 65534): a student's "
        "server would run as it",
    }


def test_uid_min_of_login_defs_moves_the_boundary():
    default = system_accounts(parse_passwd(PASSWD), "# UID_MIN 500 is only a comment here\n")
    lowered = system_accounts(parse_passwd(PASSWD), "UID_MIN\t\t\t 500\nUID_MAX  60000\n")

    assert "(uid 600)" in reasons(plan_of(["lowann"], default))["lowann"]
    assert plan_of(["lowann"], lowered)["add"] == ["lowann"]
    assert reasons(plan_of(["hcsvc"], lowered)) == {}  # uid 777 is a person's now
    assert "(uid 5)" in reasons(plan_of(["games"], lowered))["games"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, (1000, 60000)),
        ("", (1000, 60000)),
        ("UID_MIN 500\n", (500, 60000)),
        ("UID_MAX 30000\nUID_MIN 2000\n", (2000, 30000)),
        ("UID_MIN 0x3e8\nUID_MAX 0165340\n", (1000, 60128)),
        ("UID_MIN lots\n", (1000, 60000)),
        ("#UID_MIN 5\nSYS_UID_MIN 100\n", (1000, 60000)),
    ],
)
def test_login_defs_is_read_like_shadow_reads_it(text, expected):
    assert uid_range(text) == expected


def test_without_a_machine_the_builtin_list_still_refuses_root():
    assert "root" in BUILTIN_ONLY
    assert "ann" not in BUILTIN_ONLY
    assert "systemd-anything" in BUILTIN_ONLY


# -- the accounts of this very machine (the suite runs as root) -------------------------------

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to create real users")


def _useradd(*options: str) -> Iterator[pwd.struct_passwd]:
    name = f"hcacct{secrets.token_hex(3)}"
    subprocess.run(
        ["useradd", *options, "--no-create-home", "--shell", "/usr/sbin/nologin", name],
        check=True,
        capture_output=True,
    )
    try:
        yield pwd.getpwnam(name)
    finally:
        subprocess.run(["userdel", name], check=False, capture_output=True)


def machine_uid_min() -> int:
    return uid_range(LOGIN_DEFS.read_text() if LOGIN_DEFS.exists() else None)[0]


@pytest.fixture
def system_user() -> Iterator[pwd.struct_passwd]:
    yield from _useradd("--system")


@pytest.fixture
def normal_user() -> Iterator[pwd.struct_passwd]:
    yield from _useradd()


@pytest.mark.root
@needs_root
def test_a_useradd_system_account_of_this_machine_is_refused_with_its_uid(system_user):
    assert system_user.pw_uid < machine_uid_min()

    plan = plan_of([system_user.pw_name, "ann"], this_machine())

    assert plan["add"] == ["ann"]
    assert reasons(plan) == {
        system_user.pw_name: f"'{system_user.pw_name}' is a system account of this machine "
        f"(uid {system_user.pw_uid}): a student's server would run as it"
    }


@pytest.mark.root
@needs_root
def test_a_normal_useradd_account_of_this_machine_is_accepted(normal_user):
    assert normal_user.pw_uid >= machine_uid_min()

    plan = plan_of([normal_user.pw_name], this_machine())

    assert plan["add"] == [normal_user.pw_name]
    assert plan["invalid"] == []
