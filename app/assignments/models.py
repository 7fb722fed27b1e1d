"""An assignment: a course's git repository and where it lands in every student's home."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.courses.models import Course
from app.extensions import Model
from app.timeutil import utcnow


class Assignment(Model):
    __tablename__ = "assignment"
    __table_args__ = (UniqueConstraint("course_id", "slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id"), index=True)
    slug: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(200))
    repo_url: Mapped[str] = mapped_column(Text)
    # None: the remote's default branch, read when a distribution starts.
    branch: Mapped[str | None] = mapped_column(String(255))
    # A sub-folder of the repository to deliver alone (sparse checkout); None: all of it.
    subpath: Mapped[str | None] = mapped_column(String(1000))
    # One plain folder name in the student's home.
    target: Mapped[str] = mapped_column(String(255))
    # Clone depth; None: full history (for courses that teach git).
    depth: Mapped[int | None] = mapped_column(Integer, default=1)
    # What a delivery does with a folder in an unsafe state (a merge under way, a detached
    # HEAD...): "needs_attention" leaves it alone, "backup" moves it aside and clones fresh.
    unsafe_policy: Mapped[str] = mapped_column(String(20), default="needs_attention")
    # Leave the course's version beside a notebook whose course changes did not all arrive
    # (<name>.course.ipynb), so the student can compare; off by default.
    course_copy: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(255))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # The branch's newest commit when the service last read the repository, and when that was:
    # what "behind" is measured against without reading the remote in a page request.
    latest_commit: Mapped[str | None] = mapped_column(String(40))
    latest_checked_at: Mapped[datetime | None]

    course: Mapped[Course] = relationship()

    def __repr__(self) -> str:
        return f"<Assignment {self.slug!r} of {self.course_id}>"
