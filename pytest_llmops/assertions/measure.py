"""Assertions on what a call measured: ``latency``, ``ttft``, ``cost`` and ``tokens``.

Replayed calls carry the figures recorded with them. A figure that is missing (no streaming for
``ttft``, an unpriced model for ``cost``, no usage reported for ``tokens``) cannot grade: the
assertion fails with or without ``not-`` (see ``CannotGrade``).
"""

from __future__ import annotations

from pathlib import Path

from ..errors import CannotGrade
from ..results import Grade
from ..spec.schema import AssertionSpec
from .config import assertion_type, config_error, limit, number, optional_limit
from .reasons import num
from .registry import AssertionContext, Check

__all__: list[str] = []


def _usd(x: float) -> str:
    if 0 < abs(x) < 1e-6:
        return f"${x:.2e}"
    return "$" + (f"{x:.6f}".rstrip("0").rstrip(".") or "0")


def _within_ms(what: str, ms: float, most: float, *, replayed: bool) -> Grade:
    """A time against its limit; a miss scores limit/time (a failing time exceeds the limit, so > 0)."""
    passed = ms <= most
    note = " (as recorded; replayed from a cassette)" if replayed else ""
    reason = f"{what} {ms:.0f} ms {'<=' if passed else '>'} {num(most)} ms{note}"
    return Grade(passed, 1.0 if passed else most / ms, reason)


@assertion_type("latency", "value", "threshold")
def _latency(spec: AssertionSpec, *, base_dir: Path) -> Check:
    most = limit(spec, "threshold: 1000  # ms")

    def check(ctx: AssertionContext) -> Grade:
        return _within_ms("latency", ctx.response.latency_ms, most, replayed=ctx.response.replayed)

    return check


@assertion_type("ttft", "value", "threshold")
def _ttft(spec: AssertionSpec, *, base_dir: Path) -> Check:
    most = limit(spec, "threshold: 500  # ms")

    def check(ctx: AssertionContext) -> Grade:
        ms = ctx.response.ttft_ms
        if ms is None:
            raise CannotGrade(
                f"no time to first token: set `stream: true` on provider {ctx.response.provider!r} "
                "(it is measured on streamed calls, and replayed as recorded)"
            )
        return _within_ms("time to first token", ms, most, replayed=ctx.response.replayed)

    return check


@assertion_type("cost", "value", "threshold")
def _cost(spec: AssertionSpec, *, base_dir: Path) -> Check:
    most = limit(spec, "threshold: 0.01  # USD")

    def check(ctx: AssertionContext) -> Grade:
        cost = ctx.response.cost_usd
        if cost is None:
            raise CannotGrade(
                f"cost unknown: model {ctx.response.model!r} ({ctx.response.provider}) is unpriced,"
                f" so the {_usd(most)} limit cannot be checked; add its price to the YAML file"
                " named by the `llmops_prices` ini option, e.g."
                f" `{ctx.response.model or 'my-model'}: {{input: 0.15, output: 0.60}}`"
                " (USD per million tokens)"
            )
        passed = cost <= most
        return Grade(passed, float(passed), f"cost {_usd(cost)} {'<=' if passed else '>'} {_usd(most)}")

    return check


@assertion_type("tokens", "value", "threshold", "min", "max")
def _tokens(spec: AssertionSpec, *, base_dir: Path) -> Check:
    example = "threshold: 2000 (max total tokens), or min: 10 and/or max: 2000"
    upper = optional_limit(spec, "threshold: 2000")
    if spec.max is not None:
        high = number(spec, spec.max, "max", example)
        if upper is not None and upper != high:
            raise config_error(
                spec,
                f"`max` ({num(high)}) and `threshold`/`value` ({num(upper)}) disagree; give the maximum once",
            )
        upper = high
    lower = None if spec.min is None else number(spec, spec.min, "min", example)
    if upper is None and lower is None:
        raise config_error(spec, f"a limit is required, e.g. {example}")
    if (upper is not None and upper < 0) or (lower is not None and lower < 0):
        raise config_error(spec, f"token limits must not be negative, e.g. {example}")
    if upper is not None and lower is not None and lower > upper:
        raise config_error(spec, f"`min` ({num(lower)}) is greater than the maximum ({num(upper)})")

    def check(ctx: AssertionContext) -> Grade:
        usage = ctx.response.usage
        total = usage.total_tokens
        if total == 0:
            raise CannotGrade(
                f"{ctx.response.provider} reported no token usage, so the token limit cannot be checked"
            )
        detail = f"(input {usage.input_tokens}, output {usage.output_tokens})"
        if upper is not None and total > upper:
            return Grade(False, 0.0, f"total tokens {total} > {num(upper)} {detail}")
        if lower is not None and total < lower:
            return Grade(False, 0.0, f"total tokens {total} < {num(lower)} {detail}")
        bounds = " and ".join(
            b
            for b in (
                f">= {num(lower)}" if lower is not None else "",
                f"<= {num(upper)}" if upper is not None else "",
            )
            if b
        )
        return Grade(True, 1.0, f"total tokens {total} {bounds} {detail}")

    return check
