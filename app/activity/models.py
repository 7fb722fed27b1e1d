"""The Hub's users as the poller last saw them, and each course's activity over time."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import Model
from app.hub.users import ServerState
from app.timeutil import utcnow


class Resolution(StrEnum):
    """What one activity sample stands for: a poll, or the peak of an hour's polls."""

    MINUTE = "minute"
    HOUR = "hour"


class HubUserState(Model):
    """The Hub's view of a user, copied by the activity poller so pages never ask the Hub."""

    __tablename__ = "hub_user_state"

    username: Mapped[str] = mapped_column(String(255), primary_key=True)
    on_hub: Mapped[bool] = mapped_column(default=True)  # False once the Hub no longer lists them
    admin: Mapped[bool] = mapped_column(default=False)
    groups: Mapped[list[str]] = mapped_column(JSON, default=list)
    created: Mapped[datetime | None]
    # The Hub's last_activity stays null until the first authenticated visit, so the first
    # non-null value a poll sees is when the student first logged in (to within a poll).
    first_login: Mapped[datetime | None]
    last_activity: Mapped[datetime | None]
    server: Mapped[str] = mapped_column(String(10), default=ServerState.STOPPED)
    server_ready: Mapped[bool] = mapped_column(default=False)
    server_started: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"<HubUserState {self.username!r} {self.server}>"


class ActivitySample(Model):
    """How many of a course's students were active at one time (per minute, thinned to hourly)."""

    __tablename__ = "activity_sample"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id"), index=True)
    at: Mapped[datetime] = mapped_column(index=True)
    resolution: Mapped[str] = mapped_column(String(6), default=Resolution.MINUTE)
    active: Mapped[int] = mapped_column(Integer)
    running: Mapped[int] = mapped_column(Integer)
    logged_in: Mapped[int] = mapped_column(Integer)
