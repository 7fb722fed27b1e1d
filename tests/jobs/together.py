"""Run one function in several threads at once, as several workers would, each in an app context."""

from __future__ import annotations

import threading
from collections.abc import Callable

from flask import Flask

from app.extensions import db


def run_together(app: Flask, names: list[str], fn: Callable[[str], None]) -> None:
    """Call fn(name) in one thread per name, all released together; re-raise a thread's error."""
    start = threading.Barrier(len(names))
    errors: list[BaseException] = []

    def run(name: str) -> None:
        with app.app_context():
            try:
                start.wait()
                fn(name)
            except BaseException as e:  # collected: a failed thread must fail the test
                errors.append(e)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(name,)) for name in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
