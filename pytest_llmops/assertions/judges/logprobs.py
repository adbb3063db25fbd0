"""G-Eval's probability-weighted score, from the token log-probabilities of the judge's reply.

The judge writes one score; its tokenizer also says how likely every other score was at that
token. G-Eval (Liu et al., 2023) scores with the expectation instead of the written value:

    score = Σ p(v) · v / Σ p(v)        over the values v on the scale

- ``p(v)`` is read at the token where the **top-level** score's value starts (``Verdict.score_at``),
  never at a nested ``"score"`` key; the reply's tokens are lined up with it by their lengths.
- Variants of one value are summed: ``"3"``, ``" 3"`` and ``"\\"3"`` are all the score 3.
- A value written over two tokens (``10`` as ``1`` then ``0``) is handled: the first token's
  ``"1"`` is split between 1 and 10-19 by the next token's probabilities (which are conditioned on
  that ``"1"``). Probability on another first token that could begin a longer score (a ``"1"``
  when the judge wrote ``9``) cannot be split, so the written score is used instead.
- Σ p(v), the probability mass on the scale, must reach ``MIN_PROBABILITY_MASS``; below it the
  alternatives say little about the score and the written score is used.

Whenever the written score is used, the grade's reason says why. ``TOP_LOGPROBS`` alternatives
are asked of judges that return log-probabilities (OpenAI-compatible ones).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .fields import number

__all__ = ["MIN_PROBABILITY_MASS", "TOP_LOGPROBS", "Weighting", "weigh", "weighted_score"]

TOP_LOGPROBS = 20
MIN_PROBABILITY_MASS = 0.5
#: Probability on first tokens that could begin a longer score, tolerated before giving up.
_AMBIGUITY_LIMIT = 0.01
_STRIP = " \t\n\"'"


@dataclass(frozen=True, slots=True)
class Weighting:
    """The weighted score and the mass it rests on, or why the written score stands."""

    score: float | None
    mass: float = 0.0
    note: str = ""


def _digits(alternatives: Any) -> dict[str, float]:
    """Alternative token texts that are whole numbers, their probabilities summed over variants."""
    found: dict[str, float] = {}
    for alternative in alternatives or ():
        if not isinstance(alternative, Mapping):
            continue
        text = str(alternative.get("token", "")).strip(_STRIP)
        logprob = number(alternative.get("logprob"))
        if text.isascii() and text.isdigit() and logprob is not None:
            found[text] = found.get(text, 0.0) + math.exp(logprob)
    return found


def _continuations(entry: Mapping[str, Any] | None) -> dict[str, float]:
    """Digits the next token may add to the number (no space before them: a space ends it)."""
    if entry is None:
        return {}
    found: dict[str, float] = {}
    for alternative in entry.get("top_logprobs") or [entry]:
        text = str(alternative.get("token", "")) if isinstance(alternative, Mapping) else ""
        logprob = number(alternative.get("logprob")) if isinstance(alternative, Mapping) else None
        if text.isascii() and text.isdigit() and logprob is not None:
            found[text] = found.get(text, 0.0) + math.exp(logprob)
    return found


def weigh(reply: str, logprobs: Sequence[Any], offset: int, scale: tuple[int, int]) -> Weighting:
    """The probability-weighted score at ``offset`` (see the module docstring), or why not."""
    low, high = scale
    tokens: list[tuple[int, int, Mapping[str, Any]]] = []
    position = 0
    for entry in logprobs:
        token = entry.get("token") if isinstance(entry, Mapping) else None
        if not isinstance(token, str):
            return Weighting(None, note="the token log-probabilities are malformed")
        tokens.append((position, position + len(token), entry))
        position += len(token)
    if "".join(str(e.get("token")) for _, _, e in tokens) != reply:
        return Weighting(None, note="the tokens do not spell the reply")
    at = next((i for i, (start, end, _) in enumerate(tokens) if start <= offset < end), None)
    if at is None:
        return Weighting(None, note="no token holds the score")
    start, _, entry = tokens[at]
    text = str(entry["token"])
    if text[: offset - start].strip(_STRIP):
        return Weighting(None, note="the score shares its token with other text")
    first = text[offset - start :].strip(_STRIP)
    written = ""
    for char in reply[offset:]:
        if not char.isdigit():
            break
        written += char
    if not first.isdigit() or not written.startswith(first):
        return Weighting(None, note="the score's token is not a number")
    alternatives = _digits(entry.get("top_logprobs") or [entry])
    following = tokens[at + 1][2] if at + 1 < len(tokens) else None
    continuation = _continuations(following)
    mass: dict[int, float] = {}
    ambiguous = 0.0
    for prefix, probability in alternatives.items():
        longer = [v for v in range(low, high + 1) if str(v).startswith(prefix) and str(v) != prefix]
        if not longer:
            if low <= int(prefix) <= high:
                mass[int(prefix)] = mass.get(int(prefix), 0.0) + probability
            continue
        if prefix != first:
            ambiguous += probability
            continue
        continued = 0.0
        for digit, q in continuation.items():
            value = int(prefix + digit)
            continued += q
            if low <= value <= high:
                mass[value] = mass.get(value, 0.0) + probability * q
        if low <= int(prefix) <= high:
            mass[int(prefix)] = mass.get(int(prefix), 0.0) + probability * max(0.0, 1.0 - continued)
    if ambiguous > _AMBIGUITY_LIMIT:
        return Weighting(
            None,
            note=f"{ambiguous:.2f} of the probability is on tokens that could begin a longer score",
        )
    total = sum(mass.values())
    if total < MIN_PROBABILITY_MASS:
        return Weighting(
            None,
            total,
            f"the probability mass on the scale, {total:.2f}, is below {MIN_PROBABILITY_MASS:g}",
        )
    return Weighting(sum(v * p for v, p in mass.items()) / total, total)


def weighted_score(
    reply: str, logprobs: Sequence[Any], offset: int, scale: tuple[int, int]
) -> tuple[float, float] | None:
    """(probability-weighted score, probability mass on the scale) at the score's token, or None.

    ``logprobs`` is OpenAI's ``choices[0].logprobs.content``: the tokens of the reply, each with
    its ``top_logprobs``.
    """
    weighting = weigh(reply, logprobs, offset, scale)
    return None if weighting.score is None else (weighting.score, weighting.mass)
