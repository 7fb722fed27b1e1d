"""A delivery's outcome in the instructor's words, over every report shape of the engine
(app/gitsync/report.py) and every error code the engine and the delivery raise."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from app.delivery import words
from app.delivery.worker import SYNC_BUSY
from app.gitsync.report import OUTCOMES, SyncReport

APP = Path(__file__).resolve().parents[2] / "app"


def report(outcome: str, **fields) -> dict:
    return SyncReport(outcome, **fields).to_json()


@pytest.mark.parametrize(
    ("state", "data", "expected"),
    [
        ("done", report("cloned", after="c1", updated=["a.py", "b.py"]), "received"),
        ("done", report("updated", before="c1", after="c1", updated=["a.py"]), "updated"),
        ("done", report("unchanged", before="c1", after="c1"), "already up to date"),
        ("done", report("updated", kept=["a.py", "b.py"]), "updated; kept 2 of your edits"),
        ("done", report("unchanged", kept=["a.py"]), "already up to date; kept 1 of your edits"),
        ("done", report("updated", restored=["a.py"]), "updated; restored 1 deleted file"),
        ("done", report("updated", restored=["a", "b", "c"]), "updated; restored 3 deleted files"),
        (
            "done",
            report("updated", renamed=[("a.py", "a__t.py")]),
            "updated; renamed 1 file of yours",
        ),
        (
            "done",
            report("updated", kept=["k"], restored=["r"], renamed=[("a", "a__t"), ("b", "b__t")]),
            "updated; kept 1 of your edits; restored 1 deleted file; renamed 2 files of yours",
        ),
        (
            # The "backup" policy: the unsafe folder moved aside, then a fresh clone.
            "done",
            report("cloned", before="c0", after="c1", renamed=[("hw1", "hw1_backup_t")]),
            "received afresh (your folder was moved aside)",
        ),
        (
            "done",
            report("cloned", before="c0", renamed=[("hw1", "hw1_backup_t"), ("x", "x__t")]),
            "received afresh (your folder was moved aside); renamed 1 file of yours",
        ),
        # A reset (gitsync's reset, when this branch meets it) puts the course's files back.
        ("done", {"outcome": "reset", "updated": ["a.py"]}, "reset to the course's version"),
    ],
)
def test_what_a_sync_did_is_said_with_what_it_kept_restored_and_renamed(state, data, expected):
    assert words.said(state, data) == expected


def test_the_course_changes_that_did_not_reach_the_student_are_counted():
    data = {**report("updated", kept=["hw.py"]), "not_applied": ["hw.py", "notes.md"]}
    assert words.said("done", data) == (
        "updated; kept 1 of your edits; did not apply the course's change to 2 files"
    )
    data["not_applied"] = ["hw.py"]
    assert words.said("done", data).endswith("to 1 file")


@pytest.mark.parametrize(
    ("marker", "expected"),
    [
        ("MERGE_HEAD", "needs attention: a merge is in progress"),
        ("CHERRY_PICK_HEAD", "needs attention: a cherry-pick is in progress"),
        ("REVERT_HEAD", "needs attention: a revert is in progress"),
        ("rebase-merge", "needs attention: a rebase is in progress"),
        ("rebase-apply", "needs attention: a rebase is in progress"),
    ],
)
def test_a_git_operation_in_progress_is_named(marker, expected):
    message = f"A git operation is in progress in the folder ({marker})."
    data = SyncReport.problem("needs_attention", "operation_in_progress", message, "c1").to_json()
    assert words.said("attention", data, message) == expected


@pytest.mark.parametrize(
    "message",
    [
        "git checkout failed: error: unable to write file a.bin: No space left on device",
        "A file operation failed: No space left on device.",
        "git fetch failed: fatal: write error: Disk quota exceeded",
    ],
)
def test_a_full_disk_is_said_so_whichever_layer_saw_it(message):
    for code in ("git_failed", "filesystem_error"):
        data = SyncReport.problem("failed", code, message).to_json()
        assert words.said("failed", data, message) == "failed: disk full"


def test_a_read_only_home_and_a_busy_folder():
    message = "Cannot create the workspace lock beside the folder (Read-only file system)."
    data = SyncReport.problem("failed", "lock_failed", message).to_json()
    assert words.said("failed", data, message) == "failed: the home is read-only"
    busy = SyncReport.problem("failed", "workspace_busy", "Another sync is running.").to_json()
    assert words.said("attention", busy, SYNC_BUSY) == (
        "needs attention: another git operation held the folder"
    )


def test_states_before_any_report_and_the_delivery_own_errors():
    assert words.said("queued") == "queued"
    assert words.said("claimed") == "running"
    assert words.said("waiting", waiting_for="waiting for first login") == (
        "waiting for first login"
    )
    assert words.said("waiting") == "waiting for first login"
    assert words.said("superseded") == "replaced by a newer distribution"
    assert words.said("queued", waiting_for="waiting for another delivery to the same folder") == (
        "queued: waiting for another delivery to the same folder"
    )
    # Refused by the delivery itself, before the engine ran: no report, a sentence of its own.
    error = "Hub admins get no deliveries into their home: their account can act for everyone."
    assert words.said("failed", None, error) == (
        "failed: Hub admins get no deliveries into their home"
    )
    assert words.said("failed", {"outcome": "failed"}, "The mirror is gone.") == (
        "failed: The mirror is gone"
    )
    assert words.said("failed") == "failed: unknown error"


def test_outside_text_stays_on_one_line():
    error = "git failed\nforged line \u202eevil"
    shown = words.said("failed", None, error)
    assert "\n" not in shown and "\u202e" not in shown
    assert words.said("waiting", waiting_for="a\nb") == "a\\u000ab"
    unknown = SyncReport.problem("failed", "brand_new", "Line one\nline two").to_json()
    assert "\n" not in words.said("failed", unknown)


def test_every_outcome_of_the_engine_has_its_words():
    for outcome in OUTCOMES:
        if outcome in ("needs_attention", "failed"):
            continue
        assert outcome in words.OUTCOME_WORDS, outcome


def _codes_raised(folder: Path) -> set[str]:
    """The string codes of every GitSyncError, Unsafe and SyncReport.problem in the folder."""
    found = set()
    for path in folder.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = getattr(func, "id", None) or getattr(func, "attr", None)
            args = [a.value for a in node.args if isinstance(a, ast.Constant)]
            strings = [a for a in args if isinstance(a, str)]
            if name == "problem" and len(strings) >= 2:
                found.add(strings[1])
            elif name in ("GitSyncError", "Unsafe", "_failed", "_attention") and strings:
                found.add(strings[0])
            elif name == "__init__" and path.name == "runner.py" and strings:
                found.add(strings[0])  # GitCommandFailed's codes
    return found - {"failed", "needs_attention"}


def test_every_code_the_engine_raises_has_its_words():
    codes = _codes_raised(APP / "gitsync") | _codes_raised(APP / "delivery")
    assert {"git_failed", "too_large", "operation_in_progress", "url_data_dir"} <= codes
    known = set(words.ATTENTION_WORDS) | set(words.FAILURE_WORDS)
    assert sorted(codes - known) == []
    # Each code has words in both states a folder can end in (an unsafe folder is left alone,
    # or fails once the "backup" policy moved it aside), never the engine's message instead.
    for code in sorted(codes):
        data = SyncReport.problem("failed", code, "The sync stopped.").to_json()
        for state in ("failed", "attention"):
            shown = words.said(state, data, "The sync stopped.")
            assert "The sync stopped" not in shown, (code, state, shown)


def test_whom_a_distribution_went_to():
    assert words.targeted("course", {"section": None, "users": None}) == "the whole course"
    assert words.targeted("section", {"section": "lab-a", "users": None}) == "section lab-a"
    assert words.targeted("users", {"section": None, "users": ["a", "b"]}) == "2 chosen students"
    assert words.targeted("joined", {"users": ["a"]}) == "1 student who joined later"
    assert words.targeted("behind", {"section": "lab-a"}) == (
        "those of section lab-a without the latest commit"
    )
    assert words.targeted("failed", None) == "a retry of the failed ones of the whole course"
    assert words.targeted("section", {"section": "a\nb"}) == "section a\\u000ab"
    assert words.targeted("reset", {"user": "ann", "paths": []}) == "a reset of ann's files"
