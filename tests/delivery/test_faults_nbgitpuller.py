"""nbgitpuller busy in the student's server for longer than a delivery waits (SECURITY.md fault
4). tests/delivery/test_servers.py::test_nbgitpuller_busy_is_waited_for_and_retried_not_failed
proves a short busy spell is waited out; here the other git operation outlasts the wait: the
delivery ends needing attention, in words, with nothing changed, and distributing again once
nbgitpuller is free delivers it once."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.delivery import distribute, servers
from app.delivery.models import Delivery
from app.delivery.service import said
from app.extensions import db
from tests.gitsync.conftest import tree_bytes

from . import test_servers
from .kit import assignment_for
from .test_faults_hub import COURSE_FILES
from .test_servers import deliveries, holding_nbgitpuller, run, stalled_clones, start_all

pytestmark = [pytest.mark.hub]
# The fixtures of the deliveries through servers, used here too.
server_app = test_servers.server_app
students = test_servers.students


def test_nbgitpuller_busy_past_the_wait_needs_attention_then_distributing_again_delivers_once(
    server_app,
    students,
    upstream,
    tmp_path,
    monkeypatch,
):
    monkeypatch.setattr(servers, "BUSY_SECONDS", 4.0)  # 120 s in production
    (student,) = students(1)
    student.record_requests()
    stall, slow = stalled_clones(student, upstream, tmp_path)
    (student.home / "work").mkdir()
    (student.home / "work" / "mine.txt").write_bytes(b"the student's\n")
    start_all([student])
    holder = holding_nbgitpuller(student, slow)  # the student's own pull, stalled
    try:
        hw1 = assignment_for(f"bz{student.name[-7:]}", upstream, [student])
        first = distribute(hw1, who=None).id
        db.session.commit()
        row = run(server_app, first)[student.name]
        assert row.state == "attention", (row.state, row.error)
        assert said(row) == (
            "needs attention: nbgitpuller in the student's server stayed busy with another git "
            "operation"
        )
        assert "Distribute again once it is free" in row.error
        assert row.commit is None and not (student.home / "hw1").exists()
        asked_while_busy = [r for r in student.recorded() if "targetpath=hw1" in r["query"]]
        assert len(asked_while_busy) >= 2  # asked again while it waited, then given up
    finally:
        stall.unlink(missing_ok=True)
        holder.join(60)

    again = distribute(hw1, who=None).id
    db.session.commit()
    done = run(server_app, again)[student.name]
    assert done.state == "done", done.error
    assert tree_bytes(student.home / "hw1") == COURSE_FILES
    assert (student.home / "work" / "mine.txt").read_bytes() == b"the student's\n"
    given = db.session.scalar(
        select(func.count())
        .select_from(Delivery)
        .where(Delivery.username == student.name, Delivery.commit.is_not(None))
    )
    assert given == 1 and deliveries(first)[student.name].commit is None
