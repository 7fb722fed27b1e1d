"""The states of a delivery (the `state` column of the delivery queue).

queued ──claim──> claimed ──> done | attention | failed      (ended: never claimed again)
  ^                 │ └─────> waiting ──home appears──> queued
  │                 └──workspace busy──> queued
  └─ lease expired (the worker died): claimed again, by any worker
queued | waiting ──a newer delivery of the assignment to the student──> superseded
"""

from __future__ import annotations

from enum import StrEnum

from app.jobs import claim


class State(StrEnum):
    QUEUED = claim.QUEUED
    CLAIMED = claim.CLAIMED  # a worker runs it now (the JSON says "running")
    WAITING = "waiting"  # no home yet: the poll queues it again when the home appears
    DONE = "done"  # the engine cloned, updated, or found nothing to change
    ATTENTION = "attention"  # the engine left an unsafe folder alone (needs_attention)
    FAILED = "failed"
    SUPERSEDED = "superseded"  # a newer delivery of the same assignment to the same student


ENDED = frozenset({State.DONE, State.ATTENTION, State.FAILED, State.SUPERSEDED})
# Not ended, and a newer delivery to the same student makes them pointless.
REPLACEABLE = frozenset({State.QUEUED, State.WAITING})
# What a worker may still pick up, or is working on.
UNFINISHED = frozenset({State.QUEUED, State.CLAIMED})


def shown(state: str) -> str:
    """The state in the instructor's words (the API's and the command line's)."""
    return "running" if state == State.CLAIMED else str(state)
