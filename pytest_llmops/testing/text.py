"""Text utilities of the scripted server: tokens, token counts, stream deltas, fake embeddings."""

from __future__ import annotations

import functools
import hashlib
import math
import re
from typing import Final

__all__ = [
    "EMBEDDING_DIMENSIONS",
    "HUGE_REPLY_CHARS",
    "count_tokens",
    "deltas",
    "embed",
    "huge_reply",
    "tokenize",
]

EMBEDDING_DIMENSIONS: Final = 64
HUGE_REPLY_CHARS: Final = 5 * 1024 * 1024

# Streams of huge replies are sent in big deltas, not millions of events.
_HUGE_DELTA_CHARS: Final = 64 * 1024
# Every character belongs to exactly one token, so "".join(tokens) == text.
_TOKEN_RE: Final = re.compile(r"\s*(?:\w+|[^\w\s])|\s+")
_WORD_RE: Final = re.compile(r"\w+")


def tokenize(text: str) -> list[str]:
    """Split text into tokens whose concatenation is exactly `text`."""
    return _TOKEN_RE.findall(text)


def count_tokens(text: str) -> int:
    """Count tokens the way the server computes usage."""
    return len(_TOKEN_RE.findall(text))


def deltas(text: str, *, huge: bool = False) -> list[str]:
    """The content deltas of a streamed reply: one per token, or fixed-size slices of a huge one."""
    if huge:
        return [text[i : i + _HUGE_DELTA_CHARS] for i in range(0, len(text), _HUGE_DELTA_CHARS)]
    return tokenize(text)


def embed(text: str, dimensions: int = EMBEDDING_DIMENSIONS) -> list[float]:
    """Deterministic L2-normalised hashed bag-of-words embedding of `text`."""
    vector = [0.0] * dimensions
    for word in _WORD_RE.findall(text.lower()):
        digest = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "big")
        # Unsigned counts: a shared word can only raise cosine, never cancel out.
        vector[digest % dimensions] += 1.0
    norm = math.sqrt(sum(v * v for v in vector))
    if norm == 0.0:
        # Real embeddings are never zero; a fixed unit vector keeps cosine defined.
        vector[0] = 1.0
        return vector
    return [v / norm for v in vector]


@functools.lru_cache(maxsize=1)
def huge_reply() -> tuple[str, int]:
    """The "huge" fault's text and its token count, computed arithmetically.

    Tokenizing 5 MB with the regex takes about a second; the text is a
    repeated five-token unit, so the count follows from the repetitions.
    """
    unit = "lorem ipsum dolor sit amet "
    reps, rest = divmod(HUGE_REPLY_CHARS, len(unit))
    text = unit * reps + unit[:rest]
    # Each unit's trailing space joins the next word; a bare trailing space is one token.
    tokens = 5 * reps + (count_tokens(unit[:rest]) if rest else 1)
    return text, tokens
