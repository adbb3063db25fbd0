"""AWS's binary event stream (``application/vnd.amazon.eventstream``), as Bedrock streams it.

A message is a prelude (total length, headers length, CRC32 of the two), typed headers, a
payload and a CRC32 of everything before it. Written here with the standard library so a replay
reads a recorded stream without botocore; a test checks it against botocore's own parser.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["EventMessage", "iter_messages"]

_PRELUDE = struct.Struct(">III")
#: Header value types: fixed sizes (type 6 and 7 carry a 2-byte length first).
_FIXED = {0: 0, 1: 0, 2: 1, 3: 2, 4: 4, 5: 8, 8: 8, 9: 16}


@dataclass(frozen=True, slots=True)
class EventMessage:
    """One message: its headers (``:event-type``, ``:message-type`` ...), its payload, where it ends."""

    headers: dict[str, Any]
    payload: bytes
    end: int


def _headers(data: bytes) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    position = 0
    while position < len(data):
        size = data[position]
        name = data[position + 1 : position + 1 + size].decode("utf-8")
        position += 1 + size
        kind = data[position]
        position += 1
        value: Any
        if kind in (6, 7):
            (length,) = struct.unpack_from(">H", data, position)
            raw = data[position + 2 : position + 2 + length]
            value = raw.decode("utf-8") if kind == 7 else raw
            position += 2 + length
        elif kind in _FIXED:
            width = _FIXED[kind]
            raw = data[position : position + width]
            if kind in (0, 1):
                value = kind == 0
            elif kind == 9:
                value = raw.hex()
            else:
                value = int.from_bytes(raw, "big", signed=kind != 8)
            position += width
        else:
            raise ValueError(f"unknown header value type {kind} in header {name!r}")
        headers[name] = value
    return headers


def iter_messages(body: bytes) -> Iterator[EventMessage]:
    """The messages of a complete body; a cut last message ends the iteration (incomplete).

    A bad length or checksum is a ``ValueError`` (the caller names the provider and URL).
    """
    position = 0
    while position + _PRELUDE.size <= len(body):
        total, headers_length, prelude_crc = _PRELUDE.unpack_from(body, position)
        if zlib.crc32(body[position : position + 8]) != prelude_crc:
            raise ValueError(f"bad prelude checksum at byte {position}")
        if total < 16 + headers_length:
            raise ValueError(f"message at byte {position} is shorter than its headers")
        end = position + total
        if end > len(body):
            return  # the stream was cut inside this message
        (message_crc,) = struct.unpack_from(">I", body, end - 4)
        if zlib.crc32(body[position : end - 4]) != message_crc:
            raise ValueError(f"bad message checksum at byte {position}")
        start = position + _PRELUDE.size
        headers = _headers(body[start : start + headers_length])
        yield EventMessage(headers, body[start + headers_length : end - 4], end)
        position = end
