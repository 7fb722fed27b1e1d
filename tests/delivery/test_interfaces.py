"""`flask distribute` and the distributions API: the same service, one JSON shape, and an
audit event for every distribution started or retried."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest
from sqlalchemy import select

from app.assignments.models import Assignment
from app.audit.models import AuditEvent
from app.courses import CLI_ACTOR
from app.courses.models import Course
from app.delivery.models import Distribution
from app.extensions import db
from tests.delivery.kit import (
    assignment_for,
    eventually,
    make_homes,
    workers,
)
from tests.hubusers import api, make_course, post_roster, roster_csv


def _events(action: str) -> list[tuple]:
    db.session.remove()  # read what another process or thread committed
    rows = db.session.scalars(select(AuditEvent).where(AuditEvent.action == action))
    return [(e.actor, e.target, e.detail) for e in rows]


@pytest.mark.root
def test_distribute_on_the_command_line_waits_for_its_deliveries_and_prints_one_json_object(
    app, homes: Path, make_students, upstream
):
    ann, ben, cat = make_students(3)
    make_homes(homes, [ann, ben])  # cat never logged in
    assignment_for("cli", upstream, [ann, ben, cat])
    runner = app.test_cli_runner()
    with workers(app, 1):  # a running worker shares the queue with the command
        result = runner.invoke(args=["distribute", "cli", "hw1", "--wait", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    counts = [summary[key] for key in ("total", "done", "failed", "waiting")]
    assert counts == [3, 2, 0, 1]
    assert set(summary["deliveries"][0]) >= {"username", "state", "outcome", "commit", "error"}
    ways = {d["username"]: d["way"] for d in summary["deliveries"]}
    assert ways == {ann.name: "home", ben.name: "home", cat.name: None}  # cat's has not run
    by_name = {d["username"]: d for d in summary["deliveries"]}
    assert by_name[cat.name]["state"] == "waiting"
    assert by_name[cat.name]["waiting_for"] == "waiting for first login"
    assert by_name[ann.name]["outcome"] == "cloned" and by_name[ann.name]["commit"]
    assert (homes / ann.name / "hw1" / "README.md").is_file()

    (started,) = _events("distribution.start")
    assert started[:2] == (CLI_ACTOR, "hw1")
    assert started[2] == {"distribution": summary["distribution"], "scope": "course", "students": 3}

    chosen = runner.invoke(args=["distribute", "cli", "hw1", "--users", f"{ann.name}, {ben.name}"])
    assert chosen.exit_code == 0, chosen.output
    assert "to 2 students" in chosen.output.splitlines()[0]
    for args, message in (
        (["distribute", "cli", "nope"], "has no assignment 'nope'"),
        (["distribute", "nocourse", "hw1"], "no course 'nocourse'"),
        (["distribute", "cli", "hw1", "--only-behind", "--retry-failed"], "Choose either"),
        (["distribute", "cli", "hw1", "--retry-failed"], "has failed"),
    ):
        refused = runner.invoke(args=args)
        assert refused.exit_code == 1 and message in refused.output, (args, refused.output)
    assert len(_events("distribution.start")) == 2  # refusals record nothing


@pytest.mark.hub
def test_the_api_starts_a_distribution_answers_202_and_reports_each_students_progress(
    hub, service_app
):
    session = api(hub)
    slug = f"dapi{secrets.token_hex(3)}"
    names = [f"{slug}s{i}" for i in range(2)]
    make_course(hub, session, slug)
    post_roster(hub, session, slug, roster_csv(names), apply=1)
    course = db.session.scalar(select(Course).where(Course.slug == slug))
    # Its students have no account on this machine: their deliveries wait, nothing is fetched.
    hw1 = Assignment(course=course, slug="hw1", title="HW 1", repo_url="file:///srv/hw1.git")
    hw1.target = "hw1"
    db.session.add(hw1)
    db.session.commit()
    base = hub.service_url + f"api/v1/courses/{slug}/assignments"

    r = session.post(f"{base}/hw1/distributions", json={})
    assert r.status_code == 202, r.text
    started = r.json()
    assert (started["total"], started["course"], started["scope"]) == (2, slug, "course")
    location = hub.url + r.headers["Location"]
    assert location == hub.service_url + f"api/v1/distributions/{started['distribution']}"

    def progress() -> dict:
        return session.get(location).json()

    eventually(lambda: progress()["waiting"] == 2, "both wait for their first login")
    assert {d["waiting_for"] for d in progress()["deliveries"]} == {"waiting for first login"}

    r = session.post(f"{base}/hw1/distributions", json={"users": [names[0]]})
    assert r.status_code == 202, r.text
    assert [d["username"] for d in r.json()["deliveries"]] == [names[0]]
    # "Behind" asks the repository for its latest commit; this one cannot be read.
    r = session.post(f"{base}/hw1/distributions", json={"only_behind": True})
    assert (r.status_code, r.json()["error"]["code"]) == (502, "mirror_failed"), r.text
    for body, status, words in (
        ({"only_behind": "yes"}, 400, "'only_behind' must be true or false"),
        ({"users": "alice"}, 400, "'users' must be a list"),
        ({"everyone": True}, 400, "Unknown field 'everyone'"),
        ({"users": ["stranger"]}, 400, "Not active students"),
    ):
        r = session.post(f"{base}/hw1/distributions", json=body)
        assert (r.status_code, words in r.json()["error"]["message"]) == (status, True), r.text
    assert session.post(f"{base}/nope/distributions", json={}).status_code == 404
    # A target folder the engine must not deliver into: refused before any row is written.
    hw5 = Assignment(course=course, slug="hw5", title="HW 5", repo_url="file:///srv/hw5.git")
    hw5.target, hw5.depth = ".hw5", 5
    db.session.add(hw5)
    db.session.commit()
    for body in ({}, {"only_behind": True}):
        r = session.post(f"{base}/hw5/distributions", json=body)
        assert (r.status_code, r.json()["error"]["code"]) == (400, "target_invalid"), r.text
        assert "Give the assignment a plain folder name" in r.json()["error"]["message"]
    hw5_id = hw5.id
    db.session.remove()  # read what the service committed
    assert db.session.scalars(select(Distribution).filter_by(assignment_id=hw5_id)).all() == []
    assert session.get(hub.service_url + "api/v1/distributions/999999").status_code == 404

    first = started["distribution"]
    ours = [e for e in _events("distribution.start") if e[2]["distribution"] == first]
    detail = {"distribution": first, "scope": "course", "students": 2}
    assert ours == [("instructor", "hw1", detail)]
