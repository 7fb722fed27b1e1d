"""What one delivery needs (Job), the settings it runs with (Context), and what became of it
(Result): plain values, read once in the claiming thread (no ORM objects in threads)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from flask.config import Config

from .models import SYNC
from .states import State
from .ways import HOME, SERVER, Ways, ways_of

__all__ = ["HOME", "HOMES_ONLY", "SERVER", "Context", "Job", "Leases", "Perform", "Result"]

# What a Context made without settings may do: homes only (tests and old callers).
HOMES_ONLY = Ways(homes=True, servers=False)


@dataclass(frozen=True)
class Job:
    """One claimed delivery: the assignment's fields and the student's."""

    id: int
    distribution_id: int
    assignment_id: int
    username: str
    url: str
    branch: str | None
    subpath: str | None
    target: str
    depth: int | None
    policy: str
    # As the activity poller last copied the Hub's users (HubUserState): a Hub admin.
    admin: bool = False
    kind: str = SYNC
    paths: tuple[str, ...] = ()  # a reset's; none: the whole folder
    given: str | None = None  # the commit the student was given, as of now
    reset_to: str | None = None  # a reset's commit, pinned when it was asked for
    given_branch: str | None = None  # a reset's: the branch that commit was delivered on
    # An active student of the assignment's course when the delivery was claimed.
    enrolled: bool = True
    # Leave the course's version beside a notebook whose course changes did not all arrive.
    course_copy: bool = False
    # The database was restored from a backup since the delivery was asked for: a run of it
    # after that backup was taken may have left no record (`given` may be too old).
    restored_since: bool = False


class Leases(Protocol):
    """Named leases a running delivery may take, renewed with its claim (worker.Workspaces)."""

    def take(self, name: str) -> bool: ...

    def give_back(self, name: str) -> None: ...


@dataclass(frozen=True)
class Context:
    """The settings a delivery runs with, read from the app's config by the claiming thread."""

    home_template: str
    allowed_prefixes: list[str]
    timeout: float
    # The service account whose data dir holds the mirrors, when this root process works for
    # it (HUBCLASS_SERVICE_USER); None: the mirrors are this process's own.
    mirror_account: tuple[int, int] | None = None
    # Which ways of delivery this process may use (into homes, through running servers).
    ways: Ways = HOMES_ONLY
    # Where students' servers are reached: the proxy's origin and the Hub's base URL.
    proxy_url: str | None = None
    base_url: str = "/"
    # The Hub account whose short-lived tokens deliveries through servers carry.
    account: str = "hubclass-delivery"
    # The leases of the batch running the delivery (given by the worker for each delivery).
    leases: Leases | None = field(default=None, compare=False)

    def engine_options(self) -> dict[str, Any]:
        """What every sync of the engine is given."""
        return {"allowed_prefixes": self.allowed_prefixes, "timeout": self.timeout}

    @classmethod
    def of(cls, config: Config) -> Context:
        return cls(
            home_template=config["HUBCLASS_HOME_TEMPLATE"],
            allowed_prefixes=list(config["HUBCLASS_ALLOWED_REPO_URLS"]),
            timeout=float(config["HUBCLASS_DELIVERY_TIMEOUT_SECONDS"]),
            mirror_account=config.get("DATA_DIR_OWNER"),
            ways=ways_of(config),
            proxy_url=config.get("HUBCLASS_PROXY_URL"),
            base_url=config.get("HUB_BASE_URL") or "/",
            account=config.get("HUBCLASS_DELIVERY_ACCOUNT") or "hubclass-delivery",
        )


@dataclass(frozen=True)
class Result:
    """What became of one delivery; QUEUED means "not now, run it again later"."""

    state: State
    outcome: str | None = None
    commit: str | None = None
    report: dict[str, Any] | None = None
    error: str | None = None
    waiting_for: str | None = None
    branch: str | None = None  # the course branch it delivered
    way: str | None = None  # HOME or SERVER, once it reached the student that way

    @property
    def report_code(self) -> str | None:
        """The code of the report's error, if any ("no_hub_account"...)."""
        problem = (self.report or {}).get("error")
        return problem.get("code") if isinstance(problem, dict) else None


Perform = Callable[[Job, Context], Result]
