"""Text for assertion reasons: truncated, quoted, numbers written the way a user wrote them."""

from __future__ import annotations

__all__ = ["around", "num", "quote", "quote_tail", "truncate"]


def truncate(text: str, limit: int = 200) -> str:
    """``text`` cut to ``limit`` characters, followed by a marker saying how many were cut.

    >>> truncate("abcdef", 3)
    'abc…(3 more chars)'
    """
    if limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
    if len(text) <= limit:
        return text
    return f"{text[:limit]}…({len(text) - limit} more chars)"


def quote(text: str, limit: int = 200) -> str:
    """``text`` quoted for a reason (newlines escaped), truncated with the marker outside quotes."""
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}…({len(text) - limit} more chars)"


def quote_tail(text: str, limit: int) -> str:
    """The last ``limit`` characters of ``text``, quoted, with a marker for what comes before."""
    if len(text) <= limit:
        return repr(text)
    return f"({len(text) - limit} chars before)…{text[-limit:]!r}" if limit else "…"


def around(text: str, start: int, length: int, context: int = 30) -> str:
    """A quoted window of ``text`` around ``text[start:start + length]``."""
    lo, hi = max(0, start - context), min(len(text), start + length + context)
    return ("…" if lo else "") + repr(text[lo:hi]) + ("…" if hi < len(text) else "")


def num(x: float) -> str:
    """A limit for a message: ``1000`` rather than ``1000.0``."""
    return f"{x:g}" if x != int(x) or abs(x) >= 1e15 else str(int(x))
