"""The hardened git layer, each rule shown on real git: timeouts that kill the whole process
group, no redirects, a size cap, no submodules, symlinks kept as links, no inherited config."""

from __future__ import annotations

import http.server
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from app.gitsync import GitSyncError, ensure_mirror, sync
from app.gitsync.runner import HARDENING, Git, hardened_env
from tests.gitsync.conftest import git


def processes_mentioning(text: str) -> list[str]:
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/cmdline", "rb") as handle:
                cmdline = handle.read().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if text in cmdline:
            found.append(f"{entry.name}: {cmdline}")
    return found


class SlowGitServer:
    """Accepts git:// connections and answers one byte per second, forever."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    def _accept(self) -> None:
        self.listener.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._trickle, args=(conn,), daemon=True)
            self.threads.append(thread)
            thread.start()

    def _trickle(self, conn: socket.socket) -> None:
        with conn:
            for byte in b"fff0" + b"x" * 1000:
                if self.stop.wait(1.0):
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return

    def close(self) -> None:
        self.stop.set()
        self.listener.close()
        for thread in self.threads:
            thread.join(5)


@pytest.fixture
def slow_server() -> Iterator[SlowGitServer]:
    server = SlowGitServer()
    try:
        yield server
    finally:
        server.close()


def test_a_one_byte_per_second_server_is_cut_off_and_no_git_is_left(slow_server, home, tmp_path):
    url = f"git://127.0.0.1:{slow_server.port}/course.git"
    allowed = ["git://127.0.0.1"]

    started = time.monotonic()
    report = sync(url, home / "course", allowed_prefixes=allowed, timeout=2)
    elapsed = time.monotonic() - started

    assert report.outcome == "failed"
    assert report.error_code == "timeout"
    assert elapsed < 6
    assert processes_mentioning(f":{slow_server.port}") == []
    assert [p.name for p in home.iterdir()] == [".course.hubclass.lock"]

    started = time.monotonic()
    with pytest.raises(GitSyncError) as info:
        ensure_mirror(url, "main", tmp_path / "mirrors", timeout=2)
    assert info.value.code == "timeout"
    assert time.monotonic() - started < 6
    assert processes_mentioning(f":{slow_server.port}") == []


def test_a_syncs_git_runs_nicer_than_the_service(slow_server, home):
    """A distribution's git must not take the cores from the instructors' pages: every process
    of a sync (the fork server's child and its git) runs 10 nicer than the service."""
    url = f"git://127.0.0.1:{slow_server.port}/course.git"
    done = threading.Event()
    thread = threading.Thread(
        target=lambda: (sync(url, home / "course", allowed_prefixes=["git://127.0.0.1"],
                             timeout=30), done.set()),
        daemon=True,
    )  # fmt: skip
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not (fetching := processes_mentioning(f":{slow_server.port}")):
            assert time.monotonic() < deadline, "no git process fetched from the slow server"
            time.sleep(0.05)
        ours = os.getpriority(os.PRIO_PROCESS, 0)
        for line in fetching:
            pid = int(line.split(":", 1)[0])
            assert os.getpriority(os.PRIO_PROCESS, pid) == min(ours + 10, 19), line
    finally:
        slow_server.close()  # the fetch ends at once: the server stops answering
        thread.join(40)
    assert done.is_set()


class _Redirect(http.server.BaseHTTPRequestHandler):
    target = ""

    def do_GET(self) -> None:
        self.send_response(302)
        self.send_header("Location", self.target + self.path)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


class _Record(http.server.BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.hits.append(self.path)
        self.send_response(404)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def _serve(handler) -> tuple[http.server.ThreadingHTTPServer, threading.Thread]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread


def test_an_allowed_host_cannot_redirect_git_elsewhere(tmp_path):
    record = type("Record", (_Record,), {"hits": []})
    inner, inner_thread = _serve(record)
    redirect = type("Redirect", (_Redirect,), {"target": f"http://127.0.0.1:{inner.server_port}"})
    outer, outer_thread = _serve(redirect)
    try:
        with pytest.raises(GitSyncError) as info:
            ensure_mirror(
                f"http://127.0.0.1:{outer.server_port}/course.git",
                "main",
                tmp_path / "mirrors",
                timeout=10,
            )
    finally:
        for server, thread in ((outer, outer_thread), (inner, inner_thread)):
            server.shutdown()
            server.server_close()
            thread.join()
    assert info.value.code == "mirror_fetch_failed"
    assert record.hits == []


class _AsksForAPassword(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="course"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def test_a_server_asking_for_a_password_fails_at_once_and_nothing_is_asked(tmp_path, monkeypatch):
    """SECURITY.md fault 6: no prompt, no askpass program and no credential helper of the
    service's own environment runs; the fetch fails at once instead of waiting for a person."""
    asked = tmp_path / "asked"
    askpass = tmp_path / "askpass.sh"
    askpass.write_text(f'#!/bin/sh\necho "$@" >> {asked}\necho secret\n')
    askpass.chmod(0o755)
    fake_home = tmp_path / "fakehome"
    fake_home.mkdir()
    (fake_home / ".gitconfig").write_text(f"[credential]\n\thelper = !{askpass}\n")
    monkeypatch.setenv("HOME", str(fake_home))
    for variable in ("GIT_ASKPASS", "SSH_ASKPASS"):
        monkeypatch.setenv(variable, str(askpass))
    server, thread = _serve(_AsksForAPassword)
    try:
        started = time.monotonic()
        with pytest.raises(GitSyncError) as info:
            ensure_mirror(
                f"http://127.0.0.1:{server.server_port}/course.git",
                "main",
                tmp_path / "mirrors",
                timeout=30,
            )
        elapsed = time.monotonic() - started
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    assert info.value.code == "mirror_fetch_failed"
    assert elapsed < 10
    assert not asked.exists()
    assert processes_mentioning(f":{server.server_port}") == []


def test_the_size_cap_stops_a_huge_file(home, upstream, do_sync, tmp_path):
    upstream.commit({"big.bin": os.urandom(600_000)})

    with pytest.raises(GitSyncError) as info:
        ensure_mirror(
            upstream.url, "main", tmp_path / "mirrors", timeout=30, max_file_bytes=200_000
        )
    assert info.value.code == "too_large"

    report = do_sync(home / "course", max_file_bytes=200_000)
    assert report.outcome == "failed"
    assert report.error_code == "too_large"
    assert [p.name for p in home.iterdir()] == [".course.hubclass.lock"]


def test_submodules_are_not_fetched_and_symlinks_stay_links(home, upstream, do_sync, scratch):
    secret = scratch / "secret"
    git("init", "--quiet", "--initial-branch=main", secret)
    (secret / "key").write_text("private\n")
    git("-C", secret, "add", "key")
    git("-C", secret, "commit", "--quiet", "-m", "secret")
    commit = git("-C", secret, "rev-parse", "HEAD").strip()
    git("-C", upstream.work, "update-index", "--add", "--cacheinfo", f"160000,{commit},vendor")
    os.symlink("/etc/shadow", upstream.work / "notes")
    upstream.commit(
        {".gitmodules": f'[submodule "vendor"]\n\tpath = vendor\n\turl = file://{secret}\n'}
    )

    dest = home / "course"
    report = do_sync(dest)

    assert report.outcome == "cloned", report
    assert os.readlink(dest / "notes") == "/etc/shadow"
    assert not (dest / "vendor" / "key").exists()
    assert not (dest / ".git" / "modules").exists()


def test_the_services_own_git_config_and_environment_are_ignored(
    upstream, tmp_path, monkeypatch, scratch
):
    other = scratch / "other.git"
    git("init", "--quiet", "--bare", "--initial-branch=main", other)
    fake_home = tmp_path / "fakehome"
    fake_home.mkdir()
    (fake_home / ".gitconfig").write_text(f'[url "file://{other}"]\n\tinsteadOf = {upstream.url}\n')
    monkeypatch.setenv("HOME", str(fake_home))
    monkeypatch.setenv("GIT_DIR", str(other))
    monkeypatch.setenv("GIT_CONFIG_PARAMETERS", "'core.hookspath'='/tmp/evil'")

    mirror = ensure_mirror(upstream.url, "main", tmp_path / "mirrors", timeout=30)

    assert (
        git("--git-dir", mirror, "rev-parse", "main").strip()
        == git("--git-dir", upstream.bare, "rev-parse", "main").strip()
    )


def test_mirrors_are_private_and_hold_only_the_distributed_branch(upstream, mirrors):
    upstream.checkout("solutions", create=True)
    upstream.commit({"answers.txt": "42\n"})

    mirror = ensure_mirror(upstream.url, "main", mirrors, timeout=30)

    assert git("--git-dir", mirror, "for-each-ref", "--format=%(refname)").split() == [
        "refs/heads/main"
    ]
    assert not (mirror / "hooks").exists()
    assert (os.stat(mirrors).st_mode & 0o077) == 0
    # Ready packs for the current commit only: depth-1, and the step from the previous one.
    previous = git("--git-dir", mirror, "rev-parse", "main").strip()
    upstream.checkout("main")
    head = upstream.commit({"README.md": "v2\n"})
    ensure_mirror(upstream.url, "main", mirrors, timeout=30)
    assert [p.name for p in (mirror / "hubclass-ready").iterdir()] == [head]
    assert sorted(p.name for p in (mirror / "hubclass-ready" / head).iterdir()) == [
        f"from-{previous}",
        "full",
    ]


def test_a_killed_runs_temp_folder_is_cleaned_and_the_clone_lands_by_rename(
    home, upstream, do_sync, student
):
    leftover = home / ".course.hubclass-tmp-deadbeef"
    student.write(leftover / "half" / "cloned.txt", "partial\n")

    report = do_sync(home / "course")

    assert report.outcome == "cloned"
    assert sorted(p.name for p in home.iterdir()) == [".course.hubclass.lock", "course"]


def test_every_git_call_gets_the_hardened_environment_and_settings():
    env = hardened_env(allow_protocol="https")
    assert env["GIT_ALLOW_PROTOCOL"] == "https"
    assert env["GIT_PROTOCOL_FROM_USER"] == "0"
    assert env["GIT_TERMINAL_PROMPT"] == "0"
    assert env["GIT_CONFIG_NOSYSTEM"] == "1"
    assert env["GIT_CONFIG_GLOBAL"] == "/dev/null"
    assert env["HOME"] == "/nonexistent"
    assert not any(key.startswith(("SSH_", "GIT_ASKPASS", "GIT_DIR")) for key in env)
    command = Git(time.monotonic() + 5).command(["fetch"])
    settings = [command[i + 1] for i, arg in enumerate(command) if arg == "-c"]
    for required in (
        "core.hooksPath=/dev/null",
        "core.fsmonitor=false",
        "http.followRedirects=false",
        "submodule.recurse=false",
        "protocol.allow=never",
    ):
        assert required in settings
    assert set(HARDENING) <= set(settings)
    assert not any(item.startswith("safe.directory") for item in settings)


def test_git_runs_with_no_transport_unless_one_is_named(upstream, tmp_path: Path):
    git_ = Git(time.monotonic() + 10)
    with pytest.raises(GitSyncError):
        git_.run("ls-remote", "--", upstream.url, cwd=tmp_path)
    assert git_.run("ls-remote", "--", upstream.url, cwd=tmp_path, allow_protocol="file").text
