"""The plan: who is added, kept, removed or protected, and what is refused, before any change."""

from __future__ import annotations

import json

import pytest

from app.roster import RosterError, make_plan, parse_roster
from tests.roster.rosterkit import SAMPLES, HubUser, plan_for, sample


def roster(*lines: str) -> bytes:
    return ("email,name,section\n" + "\n".join(lines) + "\n").encode()


def students(*names: str) -> bytes:
    return roster(*(f"{n}@example.edu,{n.title()},A" for n in names))


def test_a_new_course_creates_users_or_enrols_existing_ones():
    parsed = parse_roster(students("ann", "bob", "cy"), "x.csv")

    plan = plan_for(parsed, hub_users={"bob": HubUser(groups=["course-other"])})

    assert [(e.username, e.action) for e in plan.add] == [
        ("ann", "create"),
        ("bob", "enrol existing"),
        ("cy", "create"),
    ]
    assert plan.to_create == ["ann", "cy"]
    assert plan.to_group == ["ann", "bob", "cy"]
    assert (plan.keep, plan.remove, plan.needs_confirmation) == ([], [], False)


def test_planning_the_same_file_again_changes_nothing():
    parsed = parse_roster(students("ann", "bob"), "x.csv")
    in_course = HubUser(groups=["course-cs101"])

    plan = plan_for(parsed, enrolled={"ann", "bob"}, hub_users={"ann": in_course, "bob": in_course})

    assert plan.to_json()["add"] == []
    assert plan.to_json()["keep"] == ["ann", "bob"]
    assert (plan.to_create, plan.to_group, plan.remove) == ([], [], [])


def test_kept_students_that_drifted_on_the_hub_are_repaired():
    parsed = parse_roster(students("ann", "bob"), "x.csv")

    plan = plan_for(parsed, enrolled={"ann", "bob"}, hub_users={"bob": HubUser()})

    assert plan.to_create == ["ann"]  # deleted on the Hub meanwhile
    assert plan.to_group == ["ann", "bob"]  # taken out of the group by hand


def test_removal_candidates_are_listed_even_when_removal_is_off():
    parsed = parse_roster(students("ann"), "x.csv")
    hub = {"ann": HubUser(groups=["course-cs101"]), "bob": HubUser(groups=["course-cs101"])}

    plan = plan_for(parsed, enrolled={"ann", "bob", "gone"}, hub_users=hub)

    assert [(r.username, r.hub_exists, r.in_group) for r in plan.remove] == [
        ("bob", True, True),
        ("gone", False, False),
    ]
    assert plan.removes is False
    assert plan.needs_confirmation is False


NEVER_REMOVED = [
    # hub user, the reason the preview gives
    (HubUser(admin=True, roles=["admin", "user"]), "a Hub admin"),
    (HubUser(roles=["user", "user-admins"]), "holds the Hub role 'user-admins'"),
    (HubUser(groups=["course-cs101", "instructors"]), "an instructor (group 'instructors')"),
]


@pytest.mark.parametrize("mode", ["group", "delete"])
@pytest.mark.parametrize(("user", "reason"), NEVER_REMOVED)
def test_admins_role_holders_and_instructors_are_never_removed(user, reason, mode):
    parsed = parse_roster(students("ann"), "x.csv")

    plan = plan_for(
        parsed, enrolled={"ann", "zed"}, hub_users={"zed": user}, remove=mode, created_here={"zed"}
    )

    assert plan.remove == []
    assert [p.username for p in plan.protected] == ["zed"]
    assert reason in plan.protected[0].reason
    assert "zed" not in plan.to_json()["remove"]
    assert plan.details()["delete"] == []


def test_teaching_staff_named_by_username_are_never_removed():
    parsed = parse_roster(students("ann"), "x.csv")
    hub = {"zed": HubUser(groups=["course-cs101"])}

    plan = plan_for(
        parsed, enrolled={"ann", "zed"}, hub_users=hub, remove="delete", staff_users={"zed"}
    )

    assert plan.remove == []
    assert plan.protected[0].reason == "teaching staff of this course"


ACCOUNT_KEPT = [
    # hub user, created by Hubclass for this course, section groups, why the account stays
    (HubUser(groups=["course-cs101"]), False, (), "not created by Hubclass for this course"),
    (HubUser(groups=["course-cs101", "course-math2"]), True, (), "another course"),
    (HubUser(groups=["course-cs101", "course-cs101-lab"]), True, (), "'course-cs101-lab'"),
    (HubUser(groups=["course-cs101", "research"]), True, (), "the Hub group 'research'"),
    (HubUser(groups=["course-cs101", "course-cs101--lab"]), True, ("course-cs101--lab",), None),
    (HubUser(groups=["course-cs101"]), True, (), None),
]


@pytest.mark.parametrize(("user", "created", "sections", "reason"), ACCOUNT_KEPT)
def test_only_accounts_hubclass_created_for_the_course_and_nobody_else_holds_are_deleted(
    user, created, sections, reason
):
    parsed = parse_roster(students("ann"), "x.csv")

    plan = plan_for(
        parsed,
        enrolled={"ann", "zed"},
        hub_users={"zed": user},
        remove="delete",
        section_groups=sections,
        created_here={"zed"} if created else set(),
    )

    # Everyone leaves the course; only some accounts are deleted, each kept one says why.
    assert [r.username for r in plan.remove] == ["zed"]
    assert plan.protected == []
    details = plan.details()
    if reason is None:
        assert details["delete"] == ["zed"]
        assert details["account_kept"] == []
    else:
        assert details["delete"] == []
        assert [k["username"] for k in details["account_kept"]] == ["zed"]
        assert reason in details["account_kept"][0]["reason"]


def test_leaving_the_group_never_deletes_and_needs_no_creation_record():
    parsed = parse_roster(students("ann"), "x.csv")
    hub = {"zed": HubUser(groups=["course-cs101", "research"])}

    plan = plan_for(parsed, enrolled={"ann", "zed"}, hub_users=hub, remove="group")

    assert [r.username for r in plan.remove] == ["zed"]
    assert plan.details()["delete"] == []
    assert plan.details()["account_kept"] == []


@pytest.mark.parametrize(
    ("missing", "mode", "needs_confirmation"),
    [
        (1, "group", False),  # 1 of 10 is 10%: not more than the share
        (2, "group", True),
        (2, "delete", True),
        (2, "none", False),  # nothing is removed, nothing to confirm
        (10, "group", True),  # an empty or truncated file
    ],
)
def test_large_removals_need_confirmation(missing, mode, needs_confirmation):
    names = [f"s{i}" for i in range(10)]
    parsed = parse_roster(students(*names[missing:]) if missing < 10 else students("x"), "x.csv")

    plan = plan_for(parsed, enrolled=set(names), remove=mode)

    assert plan.needs_confirmation is needs_confirmation
    assert plan.removal_share == pytest.approx(missing / 10)


def test_duplicates_and_case_collisions_are_reported_and_enrolled_once():
    parsed = parse_roster(
        roster(
            "ann@example.edu,Ann,A",
            "bob@example.edu,Bob,A",
            "Ann@Example.edu,Ann Again,B",
            "ann@other.example,Another Ann,C",
            "bob@example.edu,Bob,A",
        ),
        "x.csv",
    )

    plan = plan_for(parsed)

    assert plan.to_json()["add"] == ["ann", "bob"]
    assert plan.add[0].row.name == "Ann"  # the first row wins
    assert plan.to_json()["duplicates"] == [
        {"username": "ann", "rows": [2, 4, 5]},
        {"username": "bob", "rows": [3, 6]},
    ]
    assert plan.collisions == []  # ann@other.example differs by more than case
    case_only = plan_for(parse_roster(roster("Ann@x.edu,A,", "ann@x.edu,B,"), "x.csv"))
    assert [(c.username, c.rows) for c in case_only.collisions] == [("ann", (2, 3))]


SAMPLE_RULES = [
    (path.relative_to(SAMPLES).as_posix(), rule)
    for path in sorted(SAMPLES.rglob("*"))
    if path.suffix in (".csv", ".txt")
    for rule in ("email-local", "email", "column")
    if path.stat().st_size and not (rule == "column" and path.suffix == ".txt")
]


@pytest.mark.parametrize(("path", "rule"), SAMPLE_RULES)
def test_a_refused_name_never_appears_in_add(path, rule):
    try:
        parsed = parse_roster(sample(path), path)
    except RosterError:
        return  # a whole-file problem: nothing is planned at all
    if rule == "column":
        rule = f"column:{parsed.mapping.login or parsed.mapping.email}"

    plan = plan_for(parsed, rule=rule)

    added = {e.row.row for e in plan.add}
    assert not added & {i.row for i in plan.invalid}
    assert len(plan.add) + len(plan.invalid) + sum(len(d.rows) - 1 for d in plan.duplicates) == len(
        parsed.rows
    )


def test_one_bad_row_among_many_good_ones_costs_one_row():
    lines = [f"s{i}@example.edu,S{i}," for i in range(1000)]
    lines[500] = "<script>@example.edu,Mallory,"

    plan = plan_for(parse_roster(roster(*lines), "x.csv"))

    assert len(plan.add) == 999
    assert [(i.row, i.value) for i in plan.invalid] == [(502, "<script>@example.edu")]


def test_to_json_has_exactly_the_cli_shape():
    parsed = parse_roster(sample("canvas_gradebook.csv"), "grades.csv")
    hub = {"alovelace": HubUser(groups=["course-cs101"])}

    result = plan_for(parsed, enrolled={"alovelace", "dropped"}, hub_users=hub).to_json()

    assert json.loads(json.dumps(result)) == {
        "add": ["ghopper", "aturing", "dknuth", "coneil", "zzed"],
        "keep": ["alovelace"],
        "remove": ["dropped"],
        "invalid": [],
        "duplicates": [],
        "skipped": [
            {
                "row": 2,
                "reason": "Canvas row marking assignments with manual posting (not a student)",
            },
            {"row": 3, "reason": "Canvas 'Points Possible' row (not a student)"},
            {"row": 10, "reason": "Canvas Student View test student"},
        ],
    }


def test_details_and_enrollments_give_the_app_what_it_stores():
    parsed = parse_roster(sample("d2l_grades.csv"), "grades.csv")

    plan = plan_for(parsed, hub_users={"rroe": HubUser()})
    details = plan.details()

    assert details["create"] == ["jane.doe", "richard.roe", "nnoemail"]
    assert details["enrol_existing"] == []
    assert set(details) == {
        "create",
        "enrol_existing",
        "delete",
        "account_kept",
        "protected",
        "collisions",
        "remove_mode",
        "needs_confirmation",
        "removal_share",
        "notes",
    }
    jane = plan.enrollments()[0]
    assert (jane.username, jane.name, jane.email, jane.section, jane.row) == (
        "jane.doe",
        "Jane Doe",
        "jane.doe@example.edu",
        "Section 001",
        2,
    )
    json.dumps(details)


def test_notes_explain_surprising_but_allowed_cases():
    parsed = parse_roster(students("ann", "single1", "<x>"), "x.csv")
    hub = {"ann": HubUser(admin=True), "Single1": HubUser()}

    plan = plan_for(parsed, enrolled={"gone"}, hub_users=hub, remove="group")

    text = " ".join(plan.notes)
    assert "'ann' is a Hub admin or instructor" in text
    assert "'Single1', differing only by case" in text
    assert "1 row(s) have no acceptable username" in text
    assert plan.needs_confirmation is True  # the page asks for the course name itself


def test_leaving_the_group_is_fine_for_students_of_other_courses_but_deleting_is_not():
    parsed = parse_roster(students("ann"), "x.csv")
    hub = {
        "zed": HubUser(groups=["course-cs101", "course-math2"]),
        "ta": HubUser(groups=["course-cs101", "instructors"]),
    }

    group = plan_for(parsed, enrolled={"ann", "zed", "ta"}, hub_users=hub, remove="group")
    delete = plan_for(
        parsed,
        enrolled={"ann", "zed", "ta"},
        hub_users=hub,
        remove="delete",
        created_here={"zed", "ta"},
    )
    keep = plan_for(parsed, enrolled={"ann", "zed", "ta"}, hub_users=hub, remove="none")

    assert [r.username for r in group.remove] == ["zed"]  # leaves cs101, stays in math2
    assert [p.username for p in group.protected] == ["ta"]
    # Deleting: zed leaves cs101 but keeps the account math2 still needs.
    assert [r.username for r in delete.remove] == ["zed"]
    assert delete.details()["delete"] == []
    assert "another course" in delete.remove[0].account_kept
    assert [p.username for p in delete.protected] == ["ta"]
    assert [r.username for r in keep.remove] == ["ta", "zed"]  # listed, kept: nothing removed
    assert keep.protected == []


@pytest.mark.parametrize(
    ("options", "code"),
    [
        ({"remove": "everything"}, "bad_remove"),
        ({"rule": "column:Netid"}, "unknown_column"),
        ({"rule": "emails"}, "bad_rule"),
        ({"pattern": "(unclosed"}, "bad_pattern"),
    ],
)
def test_bad_plan_options_are_refused_before_planning(options, code):
    parsed = parse_roster(students("ann"), "x.csv")

    with pytest.raises(RosterError) as err:
        make_plan(
            parsed,
            enrolled=set(),
            hub_users={},
            instructor_groups=set(),
            course_group="course-cs101",
            **options,
        )
    assert err.value.code == code
