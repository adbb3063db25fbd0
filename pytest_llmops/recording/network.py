"""In record mode ``none`` nothing leaves the process: a socket guard around every case and test.

Replay-only runs promise that no request reaches the network, nor any server on this machine
(a "live" server left on a loopback port must not answer a replay). The plugin's own calls never
connect (a call without a recording fails before any connection), and the application's HTTP
clients are replayed from the cassette (``clients.py``, ``interception.py``), but a ``python:``
provider or a Python test may open connections some other way: a raw socket, a database driver,
grpc. While a case (or a Python test using the ``llmops`` fixture) runs in ``none`` mode,
``guard`` makes the process refuse, before the system call that would send a packet:

- ``connect``/``connect_ex`` to any internet address, loopback included (and ``sendto`` or
  ``sendmsg`` to one), except the hosts allowed (``llmops_allowed_hosts``, and the scripted
  test server of the ``llmops_server`` fixture, which allows its own address);
- looking up a host name other than ``localhost`` or an allowed one, so no DNS query leaves.

Which rule applies is decided per context: a connection from a case's own context (its thread,
its tasks, the threads it starts) follows that case's record mode, and one from no case's
context is refused while any ``none``-mode case runs. Unix sockets stay allowed, and so do
connections opened before. The refusal is a ``NetworkRefusedError`` naming the host and the
record mode; if the application catches it and carries on, the call still fails with the same
error when it returns, so a swallowed refusal cannot turn into a pass. The patch is installed
once per process, on first use in ``none`` mode; outside a guarded block it costs one truth
test per connect.
"""

from __future__ import annotations

import contextlib
import contextvars
import ipaddress
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ..errors import NetworkRefusedError
from .modes import RecordMode

__all__ = ["Window", "allow_hosts", "allowed", "guard", "install", "is_loopback_host"]

_ORIGINAL_CONNECT = socket.socket.connect
_ORIGINAL_CONNECT_EX = socket.socket.connect_ex
_ORIGINAL_SENDTO = socket.socket.sendto
_ORIGINAL_SENDMSG = getattr(socket.socket, "sendmsg", None)
_ORIGINAL_GETADDRINFO = socket.getaddrinfo

#: Address families that never leave the machine.
_LOCAL_FAMILIES = frozenset(
    family for name in ("AF_UNIX", "AF_NETLINK") if (family := getattr(socket, name, None)) is not None
)
_INET_FAMILIES = frozenset({socket.AF_INET, socket.AF_INET6})


@dataclass(eq=False)  # compared by identity: two calls' windows may look alike
class Window:
    """One guarded block: its record mode and the connections refused while it ran."""

    mode: str
    refused: list[str] = field(default_factory=list)

    @property
    def refuses(self) -> bool:
        return self.mode == RecordMode.NONE.value

    def refusal(self) -> NetworkRefusedError | None:
        """The error for the first connection refused in this window, if any."""
        return NetworkRefusedError(_message(self.refused[0], self.mode)) if self.refused else None


_windows: list[Window] = []  # guarded calls in flight, in any thread
_current: contextvars.ContextVar[Window | None] = contextvars.ContextVar(
    "llmops_network_window", default=None
)
_lock = threading.Lock()
_installed = False
#: Hosts a replay may still reach: ``host`` (any port) or ``(host, port)``, with a use count.
_allowed: dict[tuple[str, int | None], int] = {}


def is_loopback_host(host: str | bytes) -> bool:
    """Whether ``host`` is this machine: 127.0.0.0/8, ``::1``, an unspecified address, localhost."""
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    name = host.strip().lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    address = _ip(name)
    if address is None:
        return False  # a host name: refused before it is looked up
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback or address.is_unspecified


def _ip(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(name.split("%", 1)[0].strip("[]"))
    except ValueError:
        return None


def _is_allowed(host: str, port: Any) -> bool:
    name = host.strip().lower().rstrip(".").strip("[]")
    with _lock:
        return (name, None) in _allowed or (isinstance(port, int) and (name, port) in _allowed)


def _refused_target(family: int, address: Any) -> str | None:
    """What a connection to ``address`` would reach, or None if it is allowed."""
    if family in _LOCAL_FAMILIES:
        return None
    if family in _INET_FAMILIES and isinstance(address, tuple) and len(address) >= 2:
        host, port = address[0], address[1]
        host_text = host.decode("ascii", "replace") if isinstance(host, bytes) else str(host)
        if _is_allowed(host_text, port):
            return None
        return f"[{host_text}]:{port}" if ":" in host_text else f"{host_text}:{port}"
    return f"{address!r} (address family {family})"


def _governing() -> Window | None:
    """The window whose rule applies here: this context's, else any refusing one."""
    window = _current.get()
    if window is not None:
        return window
    with _lock:
        return next((w for w in _windows if w.refuses), None)


def _refuse(target: str, window: Window | None) -> NetworkRefusedError:
    if window is not None:
        window.refused.append(target)
    return NetworkRefusedError(_message(target, window.mode if window else "none"))


def _message(target: str, mode: str) -> str:
    return (
        f"record mode '{mode}' refused a connection to {target}: a replay-only run reaches nothing "
        "outside this machine, nor any server on it (loopback included), not even from the "
        "application's own code. Calls made through httpx, requests, urllib3, http.client/urllib, "
        "aiohttp and botocore are recorded and replayed; a connection made any other way (a raw "
        "socket, grpc, a database driver) cannot be, and is refused. If the test needs a local "
        "service, name it in the ini key llmops_allowed_hosts (host or host:port)"
    )


def _check(sock: socket.socket, address: Any) -> None:
    if _windows:
        window = _governing()
        if window is not None and window.refuses:
            target = _refused_target(sock.family, address)
            if target is not None:
                raise _refuse(target, window)


def _connect(self: socket.socket, address: Any) -> None:
    _check(self, address)
    _ORIGINAL_CONNECT(self, address)


def _connect_ex(self: socket.socket, address: Any) -> int:
    _check(self, address)
    return _ORIGINAL_CONNECT_EX(self, address)


def _sendto(self: socket.socket, data: Any, *args: Any) -> int:
    if args:  # sendto(data, address) or sendto(data, flags, address)
        _check(self, args[-1])
    return _ORIGINAL_SENDTO(self, data, *args)


def _sendmsg(self: socket.socket, buffers: Any, *args: Any) -> int:
    if len(args) >= 3 and args[2] is not None:  # sendmsg(buffers, ancdata, flags, address)
        _check(self, args[2])
    assert _ORIGINAL_SENDMSG is not None
    return int(_ORIGINAL_SENDMSG(self, buffers, *args))


def _getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
    if _windows and isinstance(host, (str, bytes)) and host:
        text = host.decode("ascii", "replace") if isinstance(host, bytes) else host
        window = _governing()
        if (
            window is not None
            and window.refuses
            and _ip(text) is None  # an address literal needs no look-up: its connect is checked
            and not is_loopback_host(text)  # localhost resolves on this machine
            and not _is_allowed(text, port)
        ):
            raise _refuse(f"{text}:{port}" if port is not None else text, window)
    return _ORIGINAL_GETADDRINFO(host, port, *args, **kwargs)


def install() -> None:
    """Patch ``socket`` once per process; the checks act only inside ``guard``."""
    global _installed
    with _lock:
        if _installed:
            return
        socket.socket.connect = _connect  # type: ignore[method-assign,assignment]
        socket.socket.connect_ex = _connect_ex  # type: ignore[method-assign,assignment]
        socket.socket.sendto = _sendto  # type: ignore[assignment]
        if _ORIGINAL_SENDMSG is not None:
            socket.socket.sendmsg = _sendmsg  # type: ignore[method-assign,assignment]
        socket.getaddrinfo = _getaddrinfo
        _installed = True


@contextlib.contextmanager
def guard(mode: RecordMode | str, *, fail_on_swallowed: bool = True) -> Iterator[Window]:
    """While the block runs in record mode ``none``, no socket may reach beyond the allowed hosts.

    In the recording modes the block's context is marked as recording, so its connections go
    out even while a ``none``-mode case runs beside it.
    """
    record_mode = RecordMode(mode)
    if record_mode is RecordMode.NONE:
        install()
    window = Window(record_mode.value)
    token = _current.set(window)
    with _lock:
        _windows.append(window)
    try:
        yield window
    except NetworkRefusedError:
        raise
    except Exception:
        if window.refused and fail_on_swallowed:  # the application made the refusal its own error
            raise NetworkRefusedError(_message(window.refused[0], window.mode)) from None
        raise
    else:
        if window.refused and fail_on_swallowed:  # the application caught the refusal, answered anyway
            raise NetworkRefusedError(_message(window.refused[0], window.mode))
    finally:
        with _lock:
            _windows.remove(window)
        try:
            _current.reset(token)
        except ValueError:  # ended from another context (a fixture torn down elsewhere)
            _current.set(None)


def _key(host: str, port: int | None) -> tuple[str, int | None]:
    return host.strip().lower().rstrip(".").strip("[]"), port


def allow_hosts(entries: Any) -> None:
    """Allow ``host`` or ``host:port`` entries for the rest of the process (``llmops_allowed_hosts``)."""
    for entry in entries:
        host, port = split_host(str(entry))
        with _lock:
            key = _key(host, port)
            _allowed[key] = _allowed.get(key, 0) + 1


def split_host(entry: str) -> tuple[str, int | None]:
    """``api.local:8080`` -> (``api.local``, 8080); ``[::1]:80`` -> (``::1``, 80); ``db`` -> any port."""
    text = entry.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else None
    if text.count(":") == 1:
        host, _, port = text.partition(":")
        if port.isdigit():
            return host, int(port)
    return text, None


@contextlib.contextmanager
def allowed(host: str, port: int | None = None) -> Iterator[None]:
    """While the block runs, ``host`` (on ``port``, or any) may be reached in record mode ``none``."""
    key = _key(host, port)
    with _lock:
        _allowed[key] = _allowed.get(key, 0) + 1
    try:
        yield
    finally:
        with _lock:
            _allowed[key] -= 1
            if not _allowed[key]:
                del _allowed[key]
