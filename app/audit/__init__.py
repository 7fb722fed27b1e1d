"""Record who did what, for the course's history."""

from __future__ import annotations

from typing import Any

from app.courses.models import Course
from app.extensions import db

from .models import AuditEvent


def record(
    actor: str,
    action: str,
    *,
    course: Course | None = None,
    target: str = "",
    **detail: Any,
) -> AuditEvent:
    """Add an audit event to the session (the caller commits with its own change)."""
    event = AuditEvent(actor=actor, action=action, course=course, target=target, detail=detail)
    db.session.add(event)
    return event
