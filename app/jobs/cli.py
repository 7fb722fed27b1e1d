"""`flask --app wsgi worker`: a worker loop in the foreground, until SIGTERM or SIGINT."""

from __future__ import annotations

import signal
import threading
from types import FrameType

import click
from flask import current_app

from .runner import Worker, worker_name


@click.command("worker")
@click.option("--once", is_flag=True, help="Run what is due once, then exit.")
def worker_command(once: bool) -> None:
    """Run the background work (activity poll, queues) in this process."""
    # The app object itself, not the proxy: the worker's loop pushes its own app contexts.
    worker = Worker(current_app._get_current_object(), worker_name(0))  # type: ignore[attr-defined]
    if once:
        worker.run_once()
        return

    def stop(signum: int, _frame: FrameType | None) -> None:
        # Finish the task at hand, then leave the loop: its leases expire on their own. From
        # another thread: the handler runs in this one, which may hold the wake event's lock.
        threading.Thread(target=worker.halt, daemon=True).start()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        worker.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
