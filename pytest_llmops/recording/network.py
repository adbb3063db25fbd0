"""In record mode ``none`` nothing leaves the machine: a socket guard around every call of a case.

Replay-only runs promise that no request reaches the network. The plugin's own calls never do
(a call without a recording fails before any connection), but a ``python:`` provider runs the
user's application, which may open connections without httpx: ``urllib``, ``requests``, a
database driver, a raw socket. While a call runs in ``none`` mode, ``guard`` makes the process
refuse, before the system call that would send a packet:

- ``connect``/``connect_ex`` to an address outside 127.0.0.0/8 and ``::1`` (and ``sendto`` or
  ``sendmsg`` to one), from any thread, since an application may connect from its own threads;
- looking up a host name other than ``localhost``, so no DNS query leaves either.

Unix sockets stay allowed, and so do connections opened before the call. The refusal is a
``NetworkRefusedError`` naming the host and the record mode; if the application catches it and
carries on, the call still fails with the same error when it returns, so a swallowed refusal
cannot turn into a pass. The patch is installed once per process, on first use in ``none``
mode; outside a guarded call it costs one truth test per connect.
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

__all__ = ["guard", "install", "is_loopback_host"]

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
class _Window:
    """One guarded call: the connections refused while it ran in its own context."""

    mode: str
    refused: list[str] = field(default_factory=list)


_windows: list[_Window] = []  # guarded calls in flight, in any thread
_current: contextvars.ContextVar[_Window | None] = contextvars.ContextVar(
    "llmops_network_window", default=None
)
_lock = threading.Lock()
_installed = False


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


def _refused_target(family: int, address: Any) -> str | None:
    """What a connection to ``address`` would reach outside the machine, or None if it stays local."""
    if family in _LOCAL_FAMILIES:
        return None
    if family in _INET_FAMILIES and isinstance(address, tuple) and len(address) >= 2:
        host, port = address[0], address[1]
        if isinstance(host, (str, bytes)) and is_loopback_host(host):
            return None
        host_text = host.decode("ascii", "replace") if isinstance(host, bytes) else str(host)
        return f"[{host_text}]:{port}" if ":" in host_text else f"{host_text}:{port}"
    return f"{address!r} (address family {family})"


def _refuse(target: str) -> NetworkRefusedError:
    window = _current.get()
    if window is not None:
        window.refused.append(target)
    return NetworkRefusedError(_message(target, window.mode if window else "none"))


def _message(target: str, mode: str) -> str:
    return (
        f"record mode '{mode}' refused a connection to {target}: a replay-only run reaches nothing "
        "outside this machine (loopback only), not even from the application's own code. Calls "
        "made through httpx (the OpenAI and Anthropic SDKs use it) are recorded and replayed; "
        "connections made any other way (urllib, requests, raw sockets) cannot be, and are refused"
    )


def _check(sock: socket.socket, address: Any) -> None:
    if _windows:
        target = _refused_target(sock.family, address)
        if target is not None:
            raise _refuse(target)


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
        if _ip(text) is None and not is_loopback_host(text):
            raise _refuse(f"{text}:{port}" if port is not None else text)
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
def guard(mode: RecordMode | str) -> Iterator[None]:
    """While the block runs in record mode ``none``, no socket may reach beyond loopback."""
    if RecordMode(mode) is not RecordMode.NONE:
        yield
        return
    install()
    window = _Window(RecordMode(mode).value)
    token = _current.set(window)
    with _lock:
        _windows.append(window)
    try:
        yield
    except NetworkRefusedError:
        raise
    except Exception:
        if window.refused:  # the application turned the refusal into an error of its own
            raise NetworkRefusedError(_message(window.refused[0], window.mode)) from None
        raise
    else:
        if window.refused:  # the application caught the refusal and answered anyway
            raise NetworkRefusedError(_message(window.refused[0], window.mode))
    finally:
        with _lock:
            _windows.remove(window)
        _current.reset(token)
