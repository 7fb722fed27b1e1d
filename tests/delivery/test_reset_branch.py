"""A reset follows exactly what the student was given: the commit pinned when the instructor
asked, from the branch it was delivered on, never another branch's mirror of the same
repository. Real users, real homes, real git, worker loops."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.delivery import reset, service
from app.delivery.models import Delivery
from app.extensions import db
from app.gitsync import ensure_mirror
from app.gitsync.mirror import mirror_name
from tests.delivery.kit import assignment_for, eventually, make_home, settled, states, workers
from tests.delivery.test_reset import _delivered, _resets
from tests.gitsync.conftest import git, repo_git

pytestmark = pytest.mark.root


def test_a_whole_folder_reset_stays_on_the_default_branch_it_was_delivered_on(
    app, homes, make_students, upstream
):
    """Another assignment mirrors a second branch of the same repository (the instructor's
    solutions, forked from the commit the student was given), a mirror whose folder is found
    first: the reset of an assignment on the remote's default branch clones main, not it."""
    (student,) = make_students(1)
    make_home(homes, student)
    hw1 = assignment_for("branchy", upstream, [student])  # branch None: the remote's default
    _delivered(app, hw1)
    folder = homes / student.name / "hw1"
    given = repo_git(folder, "rev-parse", "HEAD").strip()
    delivered = db.session.scalars(select(Delivery.branch).where(Delivery.kind == "sync")).all()
    assert delivered == ["main"]
    first_mirror = mirror_name(upstream.url, "main")
    other = next(
        f"solutions{i}"
        for i in range(1000)
        if mirror_name(upstream.url, f"solutions{i}") < first_mirror
    )
    git("-C", upstream.work, "checkout", "-q", "-b", other)
    git("-C", upstream.work, "commit", "-q", "--allow-empty", "-m", "solutions")
    git("-C", upstream.work, "push", "-q", "origin", other)
    ensure_mirror(upstream.url, other, service.mirrors_dir(), timeout=30)

    whole_id = reset(hw1, student.name, None, who=None).id
    db.session.commit()
    assert _resets()[-1][2]["commit"] == given  # the audit names the version put back
    with workers(app, 1):
        eventually(lambda: settled(whole_id), "the reset ran")
    assert states(whole_id) == {"done": 1}
    assert repo_git(folder, "rev-parse", "HEAD").strip() == given
    assert repo_git(folder, "symbolic-ref", "HEAD").strip() == "refs/heads/main"
    fetch = repo_git(folder, "config", "--get-all", "remote.origin.fetch").strip()
    assert fetch == "+refs/heads/main:refs/remotes/origin/main"
