"""Run git hardened: a clean environment, safety settings on the command line, a wall-clock limit.

Every git process Hubclass starts goes through :class:`Git`. Nothing is inherited from the
service's environment (``GIT_DIR``, ``GIT_CONFIG_PARAMETERS``, proxies, askpass helpers, ...): the
environment is built from scratch. System and global config are off, so the only config git reads
is the repository's own, and the ``-c`` settings below override that too (command-line config wins
over every file).
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from app.text import printable

from .errors import GitSyncError

GIT = "git"
# Debian's git finds its helpers through its compiled-in exec path; PATH only has to find git.
SAFE_PATH = "/usr/local/bin:/usr/bin:/bin"
# A home without files: no ~/.gitconfig, ~/.config/git/{config,attributes,ignore}, credentials.
EMPTY_HOME = "/nonexistent"

# Settings that protect the service and the student whatever the repository's config says.
HARDENING = (
    "core.hooksPath=/dev/null",  # a planted hook never runs
    "core.fsmonitor=false",  # nor an fsmonitor command
    "core.askPass=",
    "credential.helper=",  # an empty value clears the list: no helper runs, no prompt
    "http.followRedirects=false",  # an allowed host cannot bounce git to loopback
    "protocol.allow=never",  # GIT_ALLOW_PROTOCOL names the one transport each call may use
    "submodule.recurse=false",
    "fetch.recurseSubmodules=false",
    "gc.auto=0",  # no detached "git gc --auto" outliving the deadline
    "maintenance.auto=false",
    "commit.gpgSign=false",
    "merge.verifySignatures=false",
    "core.pager=cat",
    "advice.detachedHead=false",
    # In a sparse checkout, a file the student made at an unreleased path stays theirs: git must
    # not take it for a modified course file (the engine moves it aside before a release).
    "sparse.expectFilesOutsideOfPatterns=true",
)


@dataclass
class GitResult:
    returncode: int
    stdout: bytes
    stderr: bytes

    @property
    def text(self) -> str:
        return self.stdout.decode("utf-8", "surrogateescape")

    def paths(self) -> list[str]:
        """Split NUL-terminated output (``-z``) into paths."""
        return [os.fsdecode(item) for item in self.stdout.split(b"\0") if item]


# The size cap (RLIMIT_FSIZE) kills whichever git process writes the big file: git itself, or
# the index-pack / unpack-objects helper of a fetch, which git then reports on stderr.
_TOO_LARGE = (f"died of signal {int(signal.SIGXFSZ)}".encode(), b"File too large")


class GitCommandFailed(GitSyncError):
    def __init__(self, args: Sequence[str], result: GitResult) -> None:
        self.result = result
        lines = result.stderr.decode("utf-8", "replace").strip().splitlines()
        # git's first "fatal:"/"error:" line says why; the lines after it are generic advice.
        tail = [line for line in lines if line.startswith(("fatal:", "error:"))][:2] or lines[-3:]
        detail = printable(" / ".join(tail), 300) if tail else f"exit status {result.returncode}"
        command = args[0] if args else "git"
        if result.returncode == -signal.SIGXFSZ or any(
            sign in result.stderr for sign in _TOO_LARGE
        ):
            super().__init__("too_large", TOO_LARGE_MESSAGE)
        else:
            super().__init__("git_failed", f"git {command} failed: {detail}")


TOO_LARGE_MESSAGE = "The repository has a file larger than the size cap."


def size_cap_hit(git_dir: Path | None, limit: int | None) -> bool:
    """Tell whether a failed fetch died at the size cap, and remove what it left.

    A fetch helper killed by SIGXFSZ (RLIMIT_FSIZE) leaves its temporary pack or object behind
    at exactly the limit, while git itself only says "invalid index-pack output".
    """
    if not limit or git_dir is None:
        return False
    hit = False
    for pattern in ("objects/pack/tmp_pack_*", "objects/??/tmp_obj_*", "objects/tmp_obj_*"):
        for path in git_dir.glob(pattern):
            with contextlib.suppress(OSError):
                hit = hit or path.lstat().st_size >= limit
                path.unlink()
    return hit


def hardened_env(*, allow_protocol: str = "", ceiling: str | None = None) -> dict[str, str]:
    """Return the whole environment for a git process; ``allow_protocol`` is ':'-separated."""
    env = {
        "PATH": SAFE_PATH,
        "LANG": "C",
        "LC_ALL": "C",  # git's messages are parsed in a few places; never translated
        "HOME": EMPTY_HOME,
        "XDG_CONFIG_HOME": EMPTY_HOME,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_SYSTEM": "/dev/null",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_ATTR_NOSYSTEM": "1",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_ALLOW_PROTOCOL": allow_protocol,  # empty: no transport at all
        "GIT_PROTOCOL_FROM_USER": "0",
        "GIT_LITERAL_PATHSPECS": "1",  # a file named ':(glob)*' is just a file
        "GIT_NO_REPLACE_OBJECTS": "1",
    }
    if ceiling:
        env["GIT_CEILING_DIRECTORIES"] = ceiling
    return env


def kill_process_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


@dataclass
class Git:
    """Run git commands that all share one deadline (``time.monotonic()`` seconds).

    Each command runs in its own process group; when the deadline passes the whole group is
    killed (git fetch starts helpers such as index-pack and git-remote-https) and the call raises
    ``GitSyncError("timeout")``.
    """

    deadline: float
    git_dir: Path | None = None
    work_tree: Path | None = None
    ceiling: str | None = None
    fsize_limit: int | None = None  # bytes; applied with prlimit when set
    config: tuple[str, ...] = field(default_factory=tuple)
    # (uid, gid) to run git as, groups cleared (root working in another account's folder).
    user: tuple[int, int] | None = None
    index_file: Path | None = None  # another index than the repository's own (a scratch one)

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def command(self, args: Sequence[str]) -> list[str]:
        cmd = [GIT]
        for item in (*HARDENING, *self.config):
            cmd += ["-c", item]
        cmd += list(args)
        if self.fsize_limit:
            cmd = ["prlimit", f"--fsize={self.fsize_limit}", "--", *cmd]
        return cmd

    def env(self, allow_protocol: str) -> dict[str, str]:
        env = hardened_env(allow_protocol=allow_protocol, ceiling=self.ceiling)
        # An explicit git dir means git never goes looking for a repository elsewhere (a parent
        # directory, or whatever a swapped symlink points at).
        if self.git_dir is not None:
            env["GIT_DIR"] = str(self.git_dir)
        if self.work_tree is not None:
            env["GIT_WORK_TREE"] = str(self.work_tree)
        if self.index_file is not None:
            env["GIT_INDEX_FILE"] = str(self.index_file)
        return env

    def run(
        self,
        *args: str,
        cwd: Path | str | None = None,
        ok: Iterable[int] = (0,),
        input: bytes | None = None,
        allow_protocol: str = "",
        pass_fds: Sequence[int] = (),
    ) -> GitResult:
        """Run ``git args``; raise ``GitCommandFailed`` unless the exit status is in ``ok``."""
        remaining = self.remaining()
        if remaining <= 0:
            raise GitSyncError("timeout", "The sync ran out of time before git could run.")
        cmd = self.command(args)
        as_user: dict = {}
        if self.user is not None and os.geteuid() == 0:
            as_user = {"user": self.user[0], "group": self.user[1], "extra_groups": []}
        proc = subprocess.Popen(
            cmd,
            cwd=cwd if cwd is not None else (self.work_tree or "/"),
            env=self.env(allow_protocol),
            stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            process_group=0,
            pass_fds=tuple(pass_fds),
            **as_user,
        )
        try:
            stdout, stderr = proc.communicate(input, timeout=remaining)
        except subprocess.TimeoutExpired:
            kill_process_group(proc.pid)
            # Do not read on: a helper that escaped the group could keep the pipes open forever.
            for pipe in (proc.stdin, proc.stdout, proc.stderr):
                if pipe is not None:
                    pipe.close()
            proc.wait()
            raise GitSyncError(
                "timeout", f"git {args[0]} did not finish in time and was stopped."
            ) from None
        except BaseException:
            kill_process_group(proc.pid)
            proc.wait()
            raise
        result = GitResult(proc.returncode, stdout, stderr)
        if result.returncode not in tuple(ok):
            raise GitCommandFailed(args, result)
        return result

    def each_record(self, *args: str, each: Callable[[bytes], bool]) -> None:
        """Run ``git args`` (``-z`` output) and give ``each`` every record as it comes; stop git
        as soon as ``each`` returns False. For output that may be too large to hold: a hostile
        repository's listing is read only as far as it takes to refuse it."""
        with tempfile.TemporaryFile() as errors:
            proc = subprocess.Popen(
                self.command(args),
                cwd=self.work_tree or "/",
                env=self.env(""),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=errors,  # a file: git never blocks on it while we read stdout
                process_group=0,
            )
            assert proc.stdout is not None
            ended: bool | None = None
            try:
                ended = _feed(proc.stdout.fileno(), each, self.deadline)
            finally:
                if ended is not True:
                    kill_process_group(proc.pid)  # stopped early, timed out, or interrupted
                proc.stdout.close()
                try:  # git closed its output, so it is exiting; bounded all the same
                    proc.wait(timeout=max(self.remaining(), 1))
                except subprocess.TimeoutExpired:
                    kill_process_group(proc.pid)
                    proc.wait()
            if ended is None:
                raise GitSyncError(
                    "timeout", f"git {args[0]} did not finish in time and was stopped."
                )
            if ended and proc.returncode != 0:
                errors.seek(0)
                raise GitCommandFailed(args, GitResult(proc.returncode, b"", errors.read(1 << 16)))


def _feed(fd: int, each: Callable[[bytes], bool], deadline: float) -> bool | None:
    """Read NUL-terminated records from ``fd`` into ``each``: True at the end, False when
    ``each`` stopped, None when the deadline passed."""
    pending = b""
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
            return None
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return True
        *records, pending = (pending + chunk).split(b"\0")
        if not all(each(record) for record in records):
            return False
