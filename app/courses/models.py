"""The course: its slug, its Hub group, its teaching staff. Models never commit; the caller does."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import Model
from app.timeutil import utcnow


class Course(Model):
    __tablename__ = "course"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(40), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    # The Hub group that holds the course's students: course-<slug> unless set otherwise.
    hub_group: Mapped[str] = mapped_column(String(255))
    # Hub groups whose members teach this course, besides the service-wide instructor groups.
    instructor_groups: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Hub usernames of teaching staff named one by one (TAs), besides the staff groups.
    staff_users: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The instructor who created it; None for a course made on the command line, which no
    # Hub user owns (a Hub user called "cli" must not manage such courses).
    created_by: Mapped[str | None] = mapped_column(String(255))

    def __repr__(self) -> str:
        return f"<Course {self.slug!r}>"
