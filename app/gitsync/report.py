"""The per-workspace result of a sync, in the JSON shape the CLI, the API and the jobs share."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# "reset": chosen files (or the whole folder) put back to the course's version (gitsync.reset).
OUTCOMES = ("cloned", "updated", "unchanged", "reset", "needs_attention", "failed")


@dataclass
class SyncReport:
    """What one sync did to one workspace; ``to_json()`` is the shape documented in issue 4."""

    outcome: str
    before: str | None = None
    after: str | None = None
    updated: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)
    renamed: list[tuple[str, str]] = field(default_factory=list)
    error_code: str | None = None
    error_message: str | None = None
    # Files where some of the course's change did not arrive: the student had edited the same
    # lines (or kept the file the course deleted), and the student's side won, as in nbgitpuller.
    not_applied: list[str] = field(default_factory=list)
    # Per file both sides changed: what of the course's change did not arrive (per notebook cell,
    # per line range) and what was done about it; see gitsync.missed.
    missed: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {self.outcome!r}")

    @property
    def failed(self) -> bool:
        return self.outcome == "failed"

    @classmethod
    def problem(
        cls, outcome: str, code: str, message: str, commit: str | None = None
    ) -> SyncReport:
        """Return a report that changed nothing: ``needs_attention`` or ``failed``."""
        return cls(outcome, commit, commit, error_code=code, error_message=message)

    def to_json(self) -> dict[str, Any]:
        """Return the report as a JSON-ready dict (not a string), keys in the documented order."""
        error = None
        if self.error_code is not None:
            error = {"code": self.error_code, "message": self.error_message or ""}
        return {
            "outcome": self.outcome,
            "before": self.before,
            "after": self.after,
            "updated": list(self.updated),
            "kept": list(self.kept),
            "restored": list(self.restored),
            "renamed": [{"from": src, "to": dst} for src, dst in self.renamed],
            "error": error,
            "not_applied": list(self.not_applied),
            "missed": list(self.missed),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SyncReport:
        """Rebuild a report from ``to_json()`` output (reports cross process boundaries)."""
        error = data.get("error") or {}
        return cls(
            outcome=data["outcome"],
            before=data.get("before"),
            after=data.get("after"),
            updated=list(data.get("updated", [])),
            kept=list(data.get("kept", [])),
            restored=list(data.get("restored", [])),
            renamed=[(item["from"], item["to"]) for item in data.get("renamed", [])],
            error_code=error.get("code"),
            error_message=error.get("message"),
            not_applied=list(data.get("not_applied", [])),
            missed=list(data.get("missed", [])),
        )
