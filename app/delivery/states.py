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


class Standing(StrEnum):
    """Where a student stands with an assignment, in the instructor's words (the dashboard's)."""

    CURRENT = "current"  # given the branch's newest commit the service has read
    BEHIND = "behind"  # given an older commit
    DELIVERED = "delivered"  # given one, but the branch was never read: current or behind?
    DELIVERING = "delivering"  # queued or running now
    WAITING = "waiting"  # no home yet
    FAILED = "failed"
    ATTENTION = "needs attention"
    NOT_DELIVERED = "not delivered"


# What the instructor can act on (distribute again, retry, look at the folder).
NEEDS_ACTION = frozenset({Standing.BEHIND, Standing.FAILED, Standing.ATTENTION})


def standing(state: str | None, commit: str | None, latest: str | None) -> Standing:
    """The student's standing from their newest sync of the assignment that was not superseded
    (`state` None: none), the commit it brought, and the branch's newest known commit.

    Resets are no input: a reset puts back the commit the student was given, so it changes
    nothing of where they stand.
    """
    if state is None or state == State.SUPERSEDED:
        return Standing.NOT_DELIVERED
    if state in UNFINISHED:
        return Standing.DELIVERING
    if state == State.WAITING:
        return Standing.WAITING
    if state == State.FAILED:
        return Standing.FAILED
    if state == State.ATTENTION:
        return Standing.ATTENTION
    if commit is None or latest is None:
        return Standing.DELIVERED
    return Standing.CURRENT if commit == latest else Standing.BEHIND
