"""What a student's own server may answer a delivery: hostile answers must cost Hubclass no
more than the caps say, and reach no other student's server. A real HTTP server on a socket
plays the student's server (its answers are what a student's ~/.jupyter config could send)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from app.delivery import servers
from app.delivery.job import Context, Job
from app.delivery.service import Mirror
from app.hub.client import MintedToken

EVENT = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
FINISHED = b'data: {"phase": "finished"}\n\n'


class Server:
    """One socket; each connection is answered by `answer(request, connection)`."""

    def __init__(self, answer: Callable[[bytes, socket.socket], None]):
        self.answer = answer
        self.sent = 0
        self.requests: list[bytes] = []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.sock.accept()
            except OSError:
                return
            with connection:
                request = connection.recv(65536)
                self.requests.append(request)
                # OSError: the client hung up; what it read is what it wanted.
                with contextlib.suppress(OSError):
                    self.answer(request, connection)

    def send(self, connection: socket.socket, data: bytes) -> None:
        connection.sendall(data)
        self.sent += len(data)


@pytest.fixture
def serve() -> Iterator[Callable[..., Server]]:
    made: list[Server] = []

    def make(answer: Callable[[bytes, socket.socket], None]) -> Server:
        made.append(Server(answer))
        return made[-1]

    yield make
    for server in made:
        server.sock.close()


def ask(server: Server, username: str = "mallory") -> servers.Stream:
    job = Job(1, 1, 1, username, "https://git.example/course/hw1", None, None, "hw1", 1, "x")
    context = Context(home_template="/home/{username}", allowed_prefixes=[], timeout=30.0)
    mirror = Mirror(Path("/nonexistent"), "main", "0" * 40)
    token = MintedToken(id="1", token="secret-delivery-token", owner="hubclass-delivery")
    url = f"{server.url}/user/{username}/git-pull/api"
    return servers._ask(url, None, job, mirror, token, context, time.monotonic() + 30, 4)


def test_an_endless_answer_without_chunks_is_cut_at_the_cap_not_read_whole(serve):
    """No Content-Length, no chunks: the body ends when the server closes (or never)."""

    def answer(request: bytes, connection: socket.socket) -> None:
        server.send(connection, b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n")
        block = b"x" * (1 << 20)
        for _ in range(64):
            server.send(connection, block)

    server = serve(answer)
    with pytest.raises(servers.Refused):
        ask(server)
    # The cap for such an answer is 64 KiB: Hubclass hangs up long before 64 MiB are sent.
    assert server.sent < 16 << 20, f"{server.sent >> 20} MiB read before refusing"


def test_a_compressed_answer_is_not_inflated_in_memory_past_the_caps(serve):
    """64 KiB of gzip that inflate to 64 MiB: more than the 32 MiB an event stream may hold."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    body = b"".join(compressor.compress(b"x" * (1 << 20)) for _ in range(64)) + compressor.flush()

    def answer(request: bytes, connection: socket.socket) -> None:
        head = EVENT + b"Content-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(body)
        server.send(connection, head + body)

    server = serve(answer)
    tracemalloc.start()
    try:
        with pytest.raises(servers.Refused):
            ask(server)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20, f"{peak >> 20} MiB held at once"


def test_a_cookie_one_students_server_sets_never_reaches_another_students_server(serve):
    def answer(request: bytes, connection: socket.socket) -> None:
        planted = b"Set-Cookie: planted=by-mallory; Path=/\r\n" if b"/mallory/" in request else b""
        server.send(connection, EVENT + planted + b"Connection: close\r\n\r\n" + FINISHED)

    server = serve(answer)
    assert ask(server, "mallory").finished
    assert ask(server, "victor").finished
    to_victor = server.requests[-1].lower()
    assert b"/victor/" in to_victor and b"planted" not in to_victor


def test_a_long_line_sent_a_byte_per_chunk_costs_time_in_proportion_not_squared(serve):
    """200 KiB of one line in 1-byte chunks (6 bytes each on the wire), then the end."""

    def answer(request: bytes, connection: socket.socket) -> None:
        server.send(connection, EVENT + b"Transfer-Encoding: chunked\r\n\r\n")
        server.send(connection, b"1\r\nx\r\n" * (200 << 10))
        last = b"\n" + FINISHED
        server.send(connection, b"%x\r\n%s\r\n0\r\n\r\n" % (len(last), last))

    server = serve(answer)
    started = time.monotonic()
    assert ask(server).finished
    assert time.monotonic() - started < 10
