"""A fault injector in front of the real Hub API: fails chosen calls, forwards the rest.

Fakes are only for faults: every call that is not failed reaches the real Hub.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

# A rule gets (call number, method, path) and returns None to forward, or (status, headers, body)
# to answer instead, or "reset" to drop the connection without an answer.
Rule = Callable[[int, str, str], tuple[int, dict, bytes] | str | None]


class FaultyHub:
    def __init__(self, upstream: str, rule: Rule, port: int = 0):
        """`port`: 0 for a free one; the port of a FaultyHub stopped before brings the Hub
        "back up" where the app was told it is."""
        self.upstream = upstream.rstrip("/")
        self.rule = rule
        self.calls: list[tuple[str, str]] = []
        self.forwarded: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        handler = self._handler()
        self.server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hub/api"

    def __enter__(self) -> FaultyHub:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()

    def _handler(self):
        faulty = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _any(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                with faulty._lock:
                    faulty.calls.append((self.command, self.path))
                    number = len(faulty.calls)
                verdict = faulty.rule(number, self.command, self.path)
                if verdict == "reset":
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                if verdict is not None:
                    status, headers, payload = verdict
                    self.send_response(status)
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                with faulty._lock:
                    faulty.forwarded.append((self.command, self.path))
                path = self.path.removeprefix("/hub/api")
                headers = {
                    k: v
                    for k, v in self.headers.items()
                    if k.lower() in ("authorization", "accept", "content-type")
                }
                upstream = requests.request(
                    self.command, faulty.upstream + path, data=body, headers=headers, timeout=30
                )
                self.send_response(upstream.status_code)
                self.send_header(
                    "Content-Type", upstream.headers.get("Content-Type", "application/json")
                )
                self.send_header("Content-Length", str(len(upstream.content)))
                self.end_headers()
                self.wfile.write(upstream.content)

            do_GET = do_POST = do_DELETE = do_PATCH = do_PUT = _any

        return Handler
