"""HTTP plumbing of the scripted server: the threaded loopback server and its request handler.

The handler reads a request, routes it to a wire format (`formats.py`), applies the matching
rule's delay, status and transport faults, and frames what the format built: a JSON body, an
empty one, or a chunked stream, cut short or endless when a fault says so.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import selectors
import socket
import struct
import threading
import time
import traceback
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final, cast

from . import formats
from .rules import Fault, RecordedRequest, Script, reply_text
from .wire import JSON_TYPE, BadRequest, Body, Call, Empty, Stream, WireFormat

__all__ = ["POLL_INTERVAL", "Handler", "LoopbackServer"]

POLL_INTERVAL: Final = 0.05
# Bounds so fault threads always terminate even if nobody closes the server.
_HANG_MAX_SECONDS: Final = 300.0
_ENDLESS_MAX_SECONDS: Final = 300.0
_ENDLESS_INTERVAL: Final = 0.05
_PEER_GONE: Final = ("BrokenPipeError", "ConnectionResetError", "ConnectionAbortedError")


class _ClientGoneError(Exception):
    """The peer disconnected or the server is closing; abandon the response."""


class LoopbackServer(ThreadingHTTPServer):
    """ThreadingHTTPServer that numbers and tracks connections so close() can abort them."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], script: Script) -> None:
        self.script = script
        # Set first on close: hang, endless and delay loops watch it and bail out.
        self.closing = threading.Event()
        self._conns: dict[socket.socket, int] = {}
        self._serials = itertools.count(1)
        self._idle = threading.Condition()
        super().__init__(address, Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        # Registered on the accept thread so close() can never miss a socket.
        with self._idle:
            self._conns[request] = next(self._serials)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        try:
            super().shutdown_request(request)
        finally:
            with self._idle:
                self._conns.pop(request, None)
                self._idle.notify_all()

    def serial(self, conn: socket.socket) -> int:
        """The number of connection `conn`, 1 for the first accepted."""
        with self._idle:
            return self._conns.get(conn, 0)

    def abort_connections(self) -> None:
        """Wake handlers blocked on idle keep-alive connections."""
        with self._idle:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def wait_idle(self, timeout: float) -> None:
        """Wait until every handler thread has released its connection."""
        with self._idle:
            self._idle.wait_for(lambda: not self._conns, timeout=timeout)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # The default prints to stderr; peers vanishing is normal here.
        text = traceback.format_exc()
        if not any(name in text for name in _PEER_GONE):
            self.script.record_error(text)


def _route_path(raw: str) -> str:
    path = raw.split("?", 1)[0].rstrip("/")
    # Accept both base URLs for every client: /v1/messages, /messages, /v1/v1/...
    # Whole segments only, so a format may serve /v1beta/... paths.
    return re.sub(r"^(?:/v1(?=/|$))+", "", path) or "/"


class Handler(BaseHTTPRequestHandler):
    """Serves one connection: routes each request to its wire format and frames the reply."""

    protocol_version = "HTTP/1.1"
    # Without this every small write waits ~40 ms for a delayed ACK.
    disable_nagle_algorithm = True
    server_version = "ScriptedLLM/1.0"
    _started = False

    def log_message(self, format: str, *args: Any) -> None:
        """Stay silent; tests own stdout and stderr."""

    @property
    def _loopback(self) -> LoopbackServer:
        return cast(LoopbackServer, self.server)

    @property
    def _script(self) -> Script:
        return self._loopback.script

    def send_response(self, code: int, message: str | None = None) -> None:
        """Send the status line, remembering that the response has begun."""
        self._started = True
        super().send_response(code, message)

    # -- HTTP verbs --------------------------------------------------------

    def do_GET(self) -> None:
        """Serve the model list and single-model lookups."""
        headers = self._record_request(b"", None)
        models = formats.model_list(headers)
        body = models.body(_route_path(self.path), self._script.models)
        if body is None:
            self._send_error(404, f"Unknown path {self.path}", models.errors)
        else:
            self._send_json(200, body)

    def do_POST(self) -> None:
        """Serve every wire format's POST endpoints."""
        path = _route_path(self.path)
        body = self._read_body()
        payload: Any | None
        try:
            payload = json.loads(body) if body else None
        except ValueError:
            payload = None
        self._record_request(body, payload)
        fmt = formats.for_path(path)
        if fmt is None:
            self._send_error(404, f"Unknown path {self.path}", formats.for_unknown_path(path))
            return
        if not isinstance(payload, dict):
            self._send_error(400, "Request body must be a JSON object", fmt)
            return
        self._started = False
        try:
            self._serve(fmt, payload)
        except (_ClientGoneError, BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as exc:  # user callbacks may raise anything
            self._script.record_error(traceback.format_exc())
            if self._started:
                # Mid-response: a second status line would corrupt the stream.
                self.close_connection = True
            else:
                self._send_error(500, f"ScriptedLLMServer internal error: {exc!r}", fmt)

    def _serve(self, fmt: WireFormat, payload: dict[str, Any]) -> None:
        script = self._script
        try:
            text = fmt.prompt_text(payload)
        except BadRequest as exc:
            self._send_error(400, str(exc), fmt)
            return
        rule = script.select(fmt.endpoint, text, payload)
        if rule is not None:
            self._pause(rule.delay)
        headers = dict(rule.headers) if rule is not None else {}
        headers.setdefault(fmt.request_id_header, f"req_{script.next_id()}")
        if rule is not None and rule.status is not None:
            message = reply_text(rule, payload, f"Scripted error {rule.status}")
            self._send_error(rule.status, message, fmt, headers, rule.error_type)
            return
        fault = rule.fault if rule is not None else None
        if fault == "reset":
            self._reset()
            return
        if fault == "hang":
            self._hang()
            return
        reply = fmt.reply(Call(payload, rule, script.default_reply, script.next_id, _route_path(self.path)))
        if isinstance(reply, Empty):
            self._send_bytes(200, b"", reply.content_type, headers)
        elif isinstance(reply, Stream):
            self._stream(reply, fault, headers)
        else:
            self._send_body(reply, fault, headers)

    # -- request plumbing --------------------------------------------------

    def _read_body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if length is not None:
            return self.rfile.read(int(length))
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    # Drain trailers up to the blank line.
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        return b""

    def _record_request(self, body: bytes, payload: Any | None) -> dict[str, str]:
        headers = {k.lower(): v for k, v in self.headers.items()}
        connection = self._loopback.serial(self.connection)
        self._script.record(RecordedRequest(self.command, self.path, headers, payload, body, connection))
        return headers

    # -- responses ---------------------------------------------------------

    def _send_bytes(
        self,
        status: int,
        body: bytes,
        content_type: str = JSON_TYPE,
        headers: Mapping[str, str] | None = None,
        *,
        content_length: int | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body) if content_length is None else content_length))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if body:
            self.wfile.write(body)

    def _send_json(self, status: int, obj: Any, headers: Mapping[str, str] | None = None) -> None:
        self._send_bytes(status, json.dumps(obj).encode(), headers=headers)

    def _send_error(
        self,
        status: int,
        message: str,
        fmt: WireFormat,
        headers: Mapping[str, str] | None = None,
        error_type: str | None = None,
    ) -> None:
        self._send_json(status, fmt.error_body(status, message, error_type, self._script.next_id), headers)

    def _send_body(self, body: Body, fault: Fault | None, headers: Mapping[str, str]) -> None:
        data = body.data
        if fault == "missing_choices":
            data = {key: value for key, value in data.items() if key != body.content_key}
        encoded = json.dumps(data).encode()
        if fault == "malformed_json":
            # Cut inside the structure so no JSON parser can accept it.
            self._send_bytes(200, encoded[: max(1, len(encoded) // 2)], headers=headers)
        elif fault == "truncated_stream":
            # Promise the full length, deliver half, hang up: an incomplete body.
            self._send_bytes(200, encoded[: len(encoded) // 2], headers=headers, content_length=len(encoded))
            self.close_connection = True
        else:
            self._send_bytes(200, encoded, headers=headers)

    # -- streams -----------------------------------------------------------

    def _stream(self, stream: Stream, fault: Fault | None, headers: Mapping[str, str]) -> None:
        if fault == "endless_stream":
            self._endless(stream, headers)
            return
        pieces, tail = stream.pieces, stream.tail
        truncated = fault == "truncated_stream"
        if truncated:
            # Stop halfway through the content: no finish, no usage, no terminator.
            pieces, tail = pieces[: (len(pieces) + 1) // 2], []
        self._start_stream(stream.content_type, headers, chunked=not truncated)
        events = [*stream.head, *(stream.render(i, piece) for i, piece in enumerate(pieces)), *tail]
        for index, event in enumerate(events):
            if index and stream.chunk_delay:
                self._pause(stream.chunk_delay)
            self._write_chunk(event, chunked=not truncated)
        if not truncated:
            self.wfile.write(b"0\r\n\r\n")

    def _endless(self, stream: Stream, headers: Mapping[str, str]) -> None:
        self._start_stream(stream.content_type, headers)
        self.close_connection = True
        for event in stream.head:
            self._write_chunk(event)
        interval = stream.chunk_delay or _ENDLESS_INTERVAL
        deadline = time.monotonic() + _ENDLESS_MAX_SECONDS
        for index, piece in enumerate(itertools.cycle(stream.pieces or [" "])):
            if time.monotonic() >= deadline:
                return
            # A failed write (client gone) raises and ends the loop.
            self._write_chunk(stream.render(index, piece))
            self._pause(interval)

    def _start_stream(self, content_type: str, headers: Mapping[str, str], *, chunked: bool = True) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Cache-Control", "no-cache")
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            # Body delimited by connection close, so a cut stream looks like a clean EOF.
            self.send_header("Connection", "close")
            self.close_connection = True
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()

    def _write_chunk(self, data: bytes, *, chunked: bool = True) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data) if chunked else data)

    # -- transport faults --------------------------------------------------

    def _pause(self, seconds: float) -> None:
        """Sleep, but give up promptly if the server is closing."""
        if seconds > 0 and self._loopback.closing.wait(seconds):
            raise _ClientGoneError

    def _reset(self) -> None:
        # Half a status block, then RST (SO_LINGER 0) instead of a polite FIN.
        self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Len")
        self.close_connection = True
        self.rfile.close()  # drop the makefile ref so close() is immediate
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()

    def _hang(self) -> None:
        # Never answer; leave when the client gives up, the server closes or the bound hits.
        self.close_connection = True
        deadline = time.monotonic() + _HANG_MAX_SECONDS
        while time.monotonic() < deadline:
            if self._loopback.closing.wait(POLL_INTERVAL) or self._client_gone():
                return

    def _client_gone(self) -> bool:
        """Whether the peer closed its end (readable with EOF)."""
        # The platform's best selector (epoll, poll), not select(): select() refuses descriptors
        # above FD_SETSIZE (1024), which a long test run in one process reaches.
        try:
            with selectors.DefaultSelector() as selector:
                selector.register(self.connection, selectors.EVENT_READ)
                readable = selector.select(0)
            return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True
