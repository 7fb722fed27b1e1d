"""Activity: the Hub poll (who logged in, who is active, whose server runs), the students' read
model with its chart and CSV export, and the dashboard pages built on them."""

from .poller import (
    ACTIVE_WINDOW,
    POLL_TASK,
    PollResult,
    init_app,
    latest_poll,
    poll_once,
    thin_samples,
)

__all__ = [
    "ACTIVE_WINDOW",
    "POLL_TASK",
    "PollResult",
    "init_app",
    "latest_poll",
    "poll_once",
    "thin_samples",
]
