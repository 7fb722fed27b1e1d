"""What became of a delivery, in the instructor's words: "received", "updated; kept 2 of your
edits", "needs attention: a merge is in progress", "failed: disk full".

Pure (no Flask, no database): the pages, the progress JSON and the command line read a
delivery's state, the engine's report (gitsync's SyncReport.to_json()) and the recorded error,
and say it here, in one place. Every code the engine reports has its words (a test holds the
table against the codes raised in app/gitsync/), so a new code is never shown raw by accident.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from app.text import printable

from .states import State

# A delivery's state, before (or instead of) any report: the state itself says it.
STATE_WORDS = {
    State.QUEUED: "queued",
    State.CLAIMED: "running",
    State.WAITING: "waiting for first login",
    State.SUPERSEDED: "replaced by a newer distribution",
}

# The engine's outcome of a sync that changed the folder as planned (or found nothing to do).
OUTCOME_WORDS = {
    "cloned": "received",
    "updated": "updated",
    "unchanged": "already up to date",
    "reset": "reset to the course's version",
}

# How the delivery reached the student (Delivery.way; None: it has not reached them).
WAY_WORDS = {
    "home": "into their home",
    "server": "through their running server",
}

# Why the engine left a folder alone (outcome needs_attention), by its code.
ATTENTION_WORDS = {
    "operation_in_progress": "a git operation is in progress",
    "unmerged_paths": "the folder has unresolved merge conflicts",
    "merge_conflict": "the course's update clashes with the folder in a way git cannot merge",
    "detached_head": "the folder is on no branch (a detached HEAD)",
    "foreign_branch": "the folder is on a branch of the student's own",
    "history_rewritten": "the course repository's history was rewritten",
    "not_a_repository": "the folder is there but is not a git repository",
    "target_not_directory": "the target is a file or a link, not a folder",
    "foreign_git_dir": "the folder's .git is not a folder",
    "corrupt_repository": "the folder's git repository is damaged",
    "index_locked": "a git lock file was left in the folder (.git/index.lock)",
    "workspace_busy": "another git operation held the folder",
    "other_repository": "the folder holds another repository than the assignment's",
    # Through the student's server (servers.py).
    "server_busy": "nbgitpuller in the student's server stayed busy with another git operation",
    "server_other_origin": "the folder fetches from another repository than the assignment's",
    "server_not_a_clone": "the folder is no clone of the course (nbgitpuller changed nothing)",
    "server_origin_unknown": "nbgitpuller fetched nothing: the folder may hold another repository",
    "server_after_restore": "up to date, maybe by a run the restored backup does not know",
}
# Which git operation a folder is in the middle of (the engine names the marker it found).
IN_PROGRESS_WORDS = {
    "MERGE_HEAD": "a merge is in progress",
    "CHERRY_PICK_HEAD": "a cherry-pick is in progress",
    "REVERT_HEAD": "a revert is in progress",
    "rebase-merge": "a rebase is in progress",
    "rebase-apply": "a rebase is in progress",
}

# Why a sync failed, by the engine's code.
FAILURE_WORDS = {
    "timeout": "it did not finish in time",
    "too_large": "a file is larger than the size cap",
    "filesystem_error": "a file operation failed",
    "git_failed": "git failed",
    "internal_error": "an unexpected error (the service's log says why)",
    "repo_busy": "git was running in the folder",
    "workspace_busy": "another git operation held the folder",
    "lock_failed": "the folder's lock could not be created",
    "lock_invalid": "the folder's lock file is not a plain file",
    "target_changed": "the folder changed during the delivery",
    "parent_missing": "the home is missing",
    "parent_invalid": "the home is not a folder",
    "owner_changed": "the home's owner changed",
    "owner_mismatch": "the home belongs to another account",
    "owner_is_root": "the home belongs to root",
    "privilege_drop_failed": "the delivery could not become the student",
    "mirror_unavailable": "the course repository's copy could not be read",
    "mirror_empty": "the course repository's copy has no commit",
    "mirror_mismatch": "the course repository's copy does not match",
    "mirror_fetch_failed": "the course repository could not be fetched",
    "branch_not_found": "the branch is not in the course repository",
    "branch_invalid": "the branch name is refused",
    "path_not_found": "the sub-folder is not in the course repository",
    "path_invalid": "the sub-folder is refused",
    "policy_invalid": "the assignment's policy is refused",
    "dest_invalid": "the target folder is refused",
    "url_invalid": "the repository URL is refused",
    "url_not_allowed": "the repository URL is not allowed",
    "url_data_dir": "the repository URL points into Hubclass's own data folder",
    "repo_too_large": "the course repository is larger than HUBCLASS_MAX_REPO_BYTES allows",
    "too_many_entries": "the course repository has more files than HUBCLASS_MAX_REPO_ENTRIES "
    "allows",
    "depth_invalid": "the assignment's history depth is refused",
    "account_missing": "the account that owns the course repository's copies is missing",
    "checkout_failed": "the course's version of the files could not be checked out",
    # A reset's refusals (gitsync/reset.py): nothing of the student's was moved.
    "reset_invalid": "the reset names no course version",
    "commit_invalid": "the course version to reset to is refused",
    "commit_not_in_course": "the version the student was given is gone from the course repository",
    "commit_unavailable": "the version the student was given could not be fetched",
    "folder_missing": "there is no folder to reset files in",
    "not_ours": "the folder is not the assignment's (another repository)",
    "path_not_delivered": "a file is not part of what the assignment delivers",
    "path_not_in_course": "a file is not in the course's version",
    "path_through_link": "a path goes through a symbolic link of the student's",
    "path_blocked": "a file of the student's is where the course has a folder",
    # Through the student's server (servers.py). nbgitpuller's own failures
    # ("server_sync_failed") have no words here: the first clause of its message shows.
    "needs_home": "this needs home delivery, which nbgitpuller in the student's server cannot do",
    "no_hub_account": "the student has no account on the Hub",
    "token_refused": "the Hub refused the delivery's token (check the delivery account's role)",
    "server_refused_token": "the student's server refused the delivery's token",
    "server_unreachable": "the student's server could not be reached through the Hub's proxy",
    "server_bad_answer": "the student's server did not answer as nbgitpuller does",
    "server_stream_ended": "the student's server stopped answering before nbgitpuller finished",
    "server_timeout": "nbgitpuller in the student's server did not finish in time",
    "no_nbgitpuller": "nbgitpuller is not installed in this server's image: add it to the "
    "image, or use home delivery",
}
# Errors of the operating system that say more than their code (git's stderr, strerror).
SYSTEM_WORDS = (
    ("no space left on device", "disk full"),
    ("disk quota exceeded", "disk full"),
    ("read-only file system", "the home is read-only"),
    ("permission denied", "permission denied"),
)
# A recorded error with no report is a sentence of the delivery's own; its first clause is
# short enough for a table ("Hub admins get no deliveries into their home: ...").
FIRST_CLAUSE = re.compile(r"^(.*?)(?::\s|\.\s|\.$|$)", re.S)


def count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _kept_and_more(report: Mapping[str, Any]) -> list[str]:
    """What the engine did beside bringing the course's files: the student's side of it."""
    parts = []
    kept = len(report.get("kept") or ())
    if kept:
        parts.append(f"kept {kept} of your edits")
    restored = len(report.get("restored") or ())
    if restored:
        parts.append(f"restored {count(restored, 'deleted file', 'deleted files')}")
    renamed = len(renamed_files(report))
    if renamed:
        parts.append(f"renamed {count(renamed, 'file of yours', 'files of yours')}")
    not_applied = len(report.get("not_applied") or ())
    if not_applied:
        parts.append(f"did not apply the course's change to {count(not_applied, 'file', 'files')}")
    return parts


def moved_aside(report: Mapping[str, Any]) -> dict[str, str] | None:
    """The folder moved aside before a fresh clone (the "backup" policy), or None.

    The engine reports it as the first rename of a clone that had a folder before.
    """
    renamed = report.get("renamed") or []
    if report.get("outcome") == "cloned" and report.get("before") and renamed:
        return renamed[0]
    return None


def renamed_files(report: Mapping[str, Any]) -> list[dict[str, str]]:
    """The student's files the engine renamed (a whole folder moved aside is not one)."""
    renamed = list(report.get("renamed") or [])
    return renamed[1:] if moved_aside(report) else renamed


def reason(code: str | None, message: str | None, table: Mapping[str, str]) -> str:
    """The words for an engine's error: by the operating system's error when it says more,
    else by its code, else its own message."""
    text = (message or "").lower()
    for sign, words in SYSTEM_WORDS:
        if sign in text:
            return words
    if code == "operation_in_progress":
        for marker, words in IN_PROGRESS_WORDS.items():
            if f"({marker})" in (message or ""):
                return words
    if code is not None and code in table:
        return table[code]
    return first_clause(message or code or "unknown error")


def first_clause(sentence: str) -> str:
    found = FIRST_CLAUSE.match(sentence.strip())
    clause = found.group(1) if found else sentence
    return printable(clause or sentence, 120)


def said(
    state: str,
    report: Mapping[str, Any] | None = None,
    error: str | None = None,
    waiting_for: str | None = None,
) -> str:
    """A delivery's outcome in the instructor's words, on one line."""
    if state == State.WAITING and waiting_for:
        return printable(waiting_for, 120)
    if state == State.QUEUED and waiting_for:
        return f"queued: {printable(waiting_for, 120)}"
    if state in STATE_WORDS:
        return STATE_WORDS[State(state)]
    report = report or {}
    problem = report.get("error") or {}
    if state == State.ATTENTION:
        code = problem.get("code")
        why = reason(code, problem.get("message") or error, {**FAILURE_WORDS, **ATTENTION_WORDS})
        return f"needs attention: {why}"
    if state == State.FAILED:
        if problem:
            table = {**ATTENTION_WORDS, **FAILURE_WORDS}
            return f"failed: {reason(problem.get('code'), problem.get('message'), table)}"
        return f"failed: {reason(None, error, {})}"
    outcome = report.get("outcome")
    first = OUTCOME_WORDS.get(outcome or "", printable(outcome or str(state), 40))
    if moved_aside(report):
        first = "received afresh (your folder was moved aside)"
    return "; ".join([first, *_kept_and_more(report)])


def way(value: str | None) -> str:
    """How a delivery reached the student, in the instructor's words ("" when it has not)."""
    return WAY_WORDS.get(value or "", "")


def targeted(scope: str, detail: Any) -> str:
    """Whom a distribution went to, in the instructor's words."""
    detail = detail if isinstance(detail, Mapping) else {}
    section = detail.get("section")
    users = detail.get("users") or []
    where = f"section {printable(str(section), 60)}" if section else "the whole course"
    if scope == "joined":
        return count(len(users), "student who joined later", "students who joined later")
    if scope == "users" and users:
        return count(len(users), "chosen student", "chosen students")
    if scope == "behind":
        return f"those of {where} without the latest commit"
    if scope == "failed":
        return f"a retry of the failed ones of {where}"
    if scope == "reset":
        return f"a reset of {printable(str(detail.get('user') or '?'), 60)}'s files"
    return where
