"""Every action the audit log records, in the instructor's words (the log page's menu)."""

from __future__ import annotations

# Recorded by `flask restore` (app/backup), read by delivery: a delivery asked for before it
# may have run after the backup was taken, with no record of that run left.
RESTORE = "service.restore"
# Recorded by `flask gitsync URL DEST` (app/gitsync/cli.py): one folder synced by hand.
FOLDER_SYNC = "folder.sync"

# Recorded by a roster apply (app/roster/imports.py) for each chunk of accounts the Hub made.
ACCOUNTS_MADE = "roster.accounts"

# Each changes the Hub, a student's files, or who may do so. A new audit.record() action is
# added here too (a test holds the call sites to this table).
ACTIONS = {
    "course.create": "course created",
    "course.staff": "teaching staff changed",
    "roster.apply": "roster applied to the Hub",
    # Written as the Hub makes them, before the apply goes on: an apply cut short (the service
    # restarted) leaves in the log every account it made.
    ACCOUNTS_MADE: "Hub accounts made by a roster apply",
    "assignment.add": "assignment added",
    "assignment.change": "assignment changed",
    "distribution.start": "assignment distributed",
    "distribution.retry": "failed deliveries retried",
    "delivery.reset": "a student's files reset",
    FOLDER_SYNC: "a folder synced from the command line",
    # The deliveries that were running when the backup was taken run again.
    RESTORE: "database restored from a backup",
}


def described(action: str) -> str:
    """The action in words; an action this table lacks is shown as it is stored."""
    return ACTIONS.get(action, action)
