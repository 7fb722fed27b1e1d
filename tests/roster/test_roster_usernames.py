"""Usernames: the course's rule, the Hub's normalisation, and the strict check (SECURITY.md 7)."""

from __future__ import annotations

import re

import pytest

from app.roster import RosterError, RosterRow, check_username, parse_roster, username_for
from tests.roster.rosterkit import plan_for, sample


def row(login: str | None = None, email: str | None = None, **raw: str) -> RosterRow:
    return RosterRow(row=2, login=login, email=email, name="", raw=dict(raw))


RULES = [
    # row, rule, expected username, or None and a fragment of the reason
    (row(email="Alice.Smith@Example.edu"), "email-local", "alice.smith", None),
    (row(login="JDoe"), "email-local", "jdoe", None),
    (row(login="jd@example.edu"), "email-local", "jd", None),
    (row(login="jdoe", email="jane.doe@example.edu"), "email-local", "jane.doe", None),
    (row(email="  Bob@example.edu \t"), "email-local", "bob", None),
    (row(email="Alice.Smith@Example.edu"), "email", "alice.smith@example.edu", None),
    (row(login="jd@example.edu"), "email", "jd@example.edu", None),
    (row(login="jdoe"), "email", None, "no email address in this row"),
    (row(login="jdoe", **{"SIS User ID": "S0042"}), "column:SIS User ID", "s0042", None),
    (row(login="jdoe", **{"SIS User ID": "S0042"}), "column:sis user id", "s0042", None),
    (row(login="jdoe", **{"SIS User ID": " "}), "column:SIS User ID", None, "cell is empty"),
    (row(**{"Mail": "a@example.edu"}), "column:Mail", None, "'@'"),
    (row(), "email-local", None, "no email or username in this row"),
    (row(email="a@@example.edu"), "email-local", None, "is not an email address"),
    (row(email="alice smith@example.edu"), "email-local", None, "is not an email address"),
    (row(email="alice+cs101@example.edu"), "email-local", None, "'+'"),
    (row(email="alice+cs101@example.edu"), "email", None, "'+'"),
]


@pytest.mark.parametrize(("source", "rule", "expected", "reason"), RULES)
def test_username_rules(source, rule, expected, reason):
    username, why = username_for(source, rule)

    assert username == expected
    if reason is None:
        assert why is None
    else:
        assert reason in why


UNSAFE = [
    # the cell as the file has it (taken as-is by the column rule), why it is refused
    ("..", "contains '..'"),
    ("a..b", "contains '..'"),
    ("-rf", "starts with '-'"),
    (".bashrc", "starts with '.'"),
    ("root", "'root' is a system account"),
    ("ADMIN", "'admin' is the sudo-capable default account of cloud images"),
    ("jupyterhub", "reserved"),
    ("<img src=x onerror=alert(1)>", "markup"),
    ("o'neil", "markup"),
    ("a&b", "markup"),
    ("a/b", "'/'"),
    ("a\\b", "'/'"),
    ("x" * 300, "is 300 characters long (at most 64)"),
    ("x" * 65, "is 65 characters long (at most 64)"),
    ("john smith", "contains a space"),
    ("tab\there", "control or invisible"),
    ("new\nline", "control or invisible"),
    ("nul\x00byte", "control or invisible"),
    ("zero\u200bwidth", "control or invisible"),
    ("rtl\u202eevil", "control or invisible"),
    ("\u0430lice", "non-ASCII letter '\u0430' (CYRILLIC SMALL LETTER A)"),
    ("jos\u00e9", "non-ASCII"),
    ("a@b", "'@' (only the whole-email rule keeps it)"),
    ("semi;colon", "not allowed in usernames: ';'"),
    ("x=1+1", "not allowed in usernames: '+' '='"),
    ("", "empty"),
]


@pytest.mark.parametrize(("name", "reason"), UNSAFE)
def test_unsafe_names_are_refused_with_a_reason(name, reason):
    username, why = username_for(row(Login=name), "column:Login")

    assert username is None
    assert reason in (why or "")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Alice", "alice"),
        ("  Alice  ", "alice"),
        ("x" * 64, "x" * 64),
        ("_svc", "_svc"),
        ("3rd.year-student_1", "3rd.year-student_1"),
        ("rooted", "rooted"),
    ],
)
def test_safe_names_are_normalised_like_the_hub(name, expected):
    assert username_for(row(login=name)) == (expected, None)


def test_custom_pattern_narrows_the_default():
    pattern = r"[a-z][a-z0-9]{2,7}"

    assert username_for(row(login="abc1"), pattern=pattern) == ("abc1", None)
    assert username_for(row(login="a.b"), pattern=pattern) == (
        None,
        "does not match the username pattern set by the Hub admin",
    )
    assert username_for(row(login="abc1"), pattern=re.compile(pattern)) == ("abc1", None)


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("john smith", "space"),
        ("root", "'root' is a system account"),
        ("../x", "'/'"),
        ("-x", "starts with '-'"),
        ("<b>", "markup"),
        ("a\u200bb", "invisible"),
        ("a@b", "'@'"),
        ("y" * 256, "at most 255"),
    ],
)
def test_a_permissive_pattern_never_lets_unsafe_names_through(name, reason):
    username, why = username_for(row(Login=name), "column:Login", pattern=r".+")

    assert username is None
    assert reason in (why or "")


def test_a_permissive_pattern_may_allow_unicode_and_long_names():
    assert username_for(row(login="José"), pattern=r"\w+") == ("josé", None)
    assert username_for(row(login="z" * 100), pattern=r"z+") == ("z" * 100, None)


@pytest.mark.parametrize(
    ("rule", "pattern", "code"),
    [
        ("email_local", None, "bad_rule"),
        ("column:", None, "bad_rule"),
        ("email-local", "[a-z", "bad_pattern"),
    ],
)
def test_bad_rules_and_patterns_are_refused(rule, pattern, code):
    with pytest.raises(RosterError) as err:
        username_for(row(login="ann"), rule, pattern)
    assert err.value.code == code


def test_at_sign_only_under_the_whole_email_rule():
    assert check_username("a@b.edu") is not None
    assert check_username("a@b.edu", allow_at=True) is None


def test_every_unsafe_name_in_the_sample_is_refused_and_only_safe_ones_added():
    parsed = parse_roster(sample("bad/unsafe_usernames.csv"), "x.csv")

    result = plan_for(parsed).to_json()

    assert result["add"] == ["alice", "ok.student"]
    assert [i["row"] for i in result["invalid"]] == list(range(3, 12))
    assert all(i["reason"] for i in result["invalid"])
