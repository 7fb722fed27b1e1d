"""A small job runner in the database: named leases, a claim for queue tables, worker loops.

It knows nothing of git or the Hub: features register their periodic tasks and queue handlers
on `registry(app)`, and the workers run them, as threads of a web process (`HUBCLASS_WORKERS`)
or as `flask --app wsgi worker` processes.
"""

from __future__ import annotations

from .runner import Registry, Worker, WorkerThreads, halting, init_app, registry

__all__ = ["Registry", "Worker", "WorkerThreads", "halting", "init_app", "registry"]
