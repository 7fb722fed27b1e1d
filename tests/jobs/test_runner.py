"""The worker loop: a periodic task once per interval in all, failures logged, sessions clean."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from flask import current_app
from sqlalchemy import func, select

from app import create_app
from app.config import from_env
from app.courses.models import Course
from app.extensions import db
from app.jobs import Registry, Worker, registry
from tests.conftest import hub_env

REPO = Path(__file__).resolve().parents[2]


def _fresh_registry(app) -> Registry:
    # The app's own registry holds the activity poll, whose Hub (port 9) is unreachable here.
    app.extensions["hubclass.jobs"] = Registry()
    return registry(app)


def test_a_periodic_task_runs_in_one_worker_of_many_per_interval(app):
    runs: list[str] = []
    _fresh_registry(app).register_periodic("count", 60, lambda: runs.append("ran"))
    workers = [Worker(app, f"w{i}") for i in range(4)]
    assert [w.run_once() for w in workers] == [1, 0, 0, 0]
    assert [w.run_once() for w in workers] == [0, 0, 0, 0]  # not due again before 60 s
    assert runs == ["ran"]


def test_a_failing_task_is_logged_and_the_other_tasks_and_the_loop_go_on(app, caplog):
    runs: list[str] = []

    def broken() -> None:
        raise RuntimeError("the Hub is restarting")

    jobs = _fresh_registry(app)
    jobs.register_periodic("broken", 60, broken)
    jobs.register_periodic("count", 60, lambda: runs.append("ran"))
    assert Worker(app, "w0").run_once() == 1
    assert runs == ["ran"]
    failed = [r for r in caplog.records if r.levelname == "ERROR"]
    assert [r.getMessage() for r in failed] == ["Background task 'broken' failed in worker w0"]
    assert "the Hub is restarting" in caplog.text


def test_every_task_runs_in_an_app_context_and_its_uncommitted_work_is_dropped(app):
    seen: list[object] = []

    def leaves_work_pending() -> int:
        seen.append(current_app._get_current_object())
        db.session.add(Course(slug="left", title="left", hub_group="course-left"))
        db.session.flush()
        return 1

    def handler(holder: str) -> int:
        seen.append(holder)
        raise RuntimeError("after a flush")

    jobs = _fresh_registry(app)
    jobs.register_periodic("pending", 60, leaves_work_pending)
    jobs.register_queue("failing", handler)
    assert Worker(app, "w0").run_once() == 1
    assert seen == [app, "w0"]
    assert db.session.scalar(select(func.count(Course.id))) == 0


def test_a_worker_calls_its_queue_handlers_again_at_once_while_they_find_work(app):
    calls: list[str] = []
    worker = Worker(app, "w0")

    def handler(holder: str) -> int:
        calls.append(holder)
        if len(calls) > 3:
            worker.halt()
            return 0
        return 1

    _fresh_registry(app).register_queue("rows", handler)
    started = time.monotonic()
    worker.run()
    assert calls == ["w0"] * 4
    assert time.monotonic() - started < 1  # no idle wait between rounds that found work


def test_a_web_process_starts_its_worker_threads_on_its_first_request(tmp_path):
    web = create_app(from_env(hub_env(HUBCLASS_DATA_DIR=str(tmp_path), HUBCLASS_WORKERS="2")))
    ran = threading.Event()

    def handler(holder: str) -> int:
        ran.set()
        return 0

    # The periodic tasks need the database's lease table; a queue handler does not.
    _fresh_registry(web).register_queue("rows", handler)
    threads = web.extensions["hubclass.workers"]
    assert threads.threads == []
    assert web.test_client().get("/services/hubclass/health").status_code == 200
    try:
        assert ran.wait(10)
        assert len(threads.threads) == 2
        assert all(t.is_alive() for t in threads.threads)
        web.test_client().get("/services/hubclass/health")
        assert len(threads.threads) == 2  # started once per process
    finally:
        threads.stop()
    assert not any(t.is_alive() for t in threads.threads)
    with web.app_context():
        db.engine.dispose()


def test_the_worker_command_runs_until_sigterm(tmp_path):
    env = {**os.environ, **hub_env(HUBCLASS_DATA_DIR=str(tmp_path / "data"))}
    worker = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "worker"],
        cwd=REPO,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert worker.stderr is not None
        lines: list[str] = []
        for line in worker.stderr:
            lines.append(line)
            if "started" in line:
                break
        assert any("Worker" in line and "started" in line for line in lines), lines
        worker.send_signal(signal.SIGTERM)
        rest = worker.communicate(timeout=20)[1]
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    assert worker.returncode == 0
    assert "stopped" in rest
