"""Model prices and the cost of a call.

Prices are USD per million tokens: input, output, and cached input. The built-in table lists
the public list prices of current OpenAI and Anthropic models as we knew them on ``PRICES_AS_OF``;
prices change, so teams override or extend it with a YAML file (ini ``llmops_prices``)::

    gpt-4o-mini: {input: 0.15, output: 0.60, cached_input: 0.075}
    my-finetune: {input: 0.30, output: 1.20}

A model with no price has cost ``None`` and is reported as "unpriced" -- never as free. Prices
that depend on the prompt's length (long-context tiers) are listed at their base tier.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import SuiteError
from ..results import Usage
from ..spec.yamlio import load_yaml_file

__all__ = ["PRICES_AS_OF", "Price", "PriceTable", "default_prices"]

#: The day the built-in table was last checked against the providers' pricing pages.
PRICES_AS_OF = "2026-11-30"


@dataclass(frozen=True, slots=True)
class Price:
    """USD per million tokens."""

    input: float
    output: float
    cached_input: float | None = None

    def cost(self, usage: Usage) -> float:
        cached = min(usage.cached_tokens, usage.input_tokens)
        cached_rate = self.cached_input if self.cached_input is not None else self.input
        return (
            (usage.input_tokens - cached) * self.input
            + cached * cached_rate
            + usage.output_tokens * self.output
        ) / 1_000_000


_BUILTIN: dict[str, Price] = {
    # OpenAI
    "gpt-5.4": Price(2.50, 15.00, 0.25),
    "gpt-5.1": Price(1.25, 10.00, 0.125),
    "gpt-5": Price(1.25, 10.00, 0.125),
    "gpt-5-chat": Price(1.25, 10.00, 0.125),  # gpt-5-chat-latest
    "gpt-5-pro": Price(15.00, 120.00),
    "gpt-5-mini": Price(0.25, 2.00, 0.025),
    "gpt-5-nano": Price(0.05, 0.40, 0.005),
    "gpt-4.1": Price(2.00, 8.00, 0.50),
    "gpt-4.1-mini": Price(0.40, 1.60, 0.10),
    "gpt-4.1-nano": Price(0.10, 0.40, 0.025),
    "gpt-4o": Price(2.50, 10.00, 1.25),
    # The first gpt-4o snapshot kept its launch price; an exact name wins over the family.
    "gpt-4o-2024-05-13": Price(5.00, 15.00),
    "chatgpt-4o-latest": Price(5.00, 15.00),
    "gpt-4o-mini": Price(0.15, 0.60, 0.075),
    "o1": Price(15.00, 60.00, 7.50),
    "o1-mini": Price(1.10, 4.40, 0.55),
    "o3-pro": Price(20.00, 80.00),
    "o3": Price(2.00, 8.00, 0.50),
    "o3-mini": Price(1.10, 4.40, 0.55),
    "o4-mini": Price(1.10, 4.40, 0.275),
    "gpt-4-turbo": Price(10.00, 30.00),
    "gpt-4": Price(30.00, 60.00),
    "gpt-3.5-turbo": Price(0.50, 1.50),
    "text-embedding-3-small": Price(0.02, 0.0),
    "text-embedding-3-large": Price(0.13, 0.0),
    "text-embedding-ada-002": Price(0.10, 0.0),
    # Anthropic (cached_input is the cache-read price; cache writes are not counted apart)
    "claude-sonnet-5-5": Price(2.00, 10.00, 0.10),
    "claude-sonnet-5": Price(2.00, 10.00, 0.20),
    "claude-opus-4-7": Price(5.00, 25.00, 0.50),
    "claude-opus-4-6": Price(5.00, 25.00, 0.50),
    "claude-sonnet-4-6": Price(3.00, 15.00, 0.30),
    "claude-opus-4-5": Price(5.00, 25.00, 0.50),
    "claude-opus-4-1": Price(15.00, 75.00, 1.50),
    "claude-opus-4": Price(15.00, 75.00, 1.50),
    "claude-opus-4-0": Price(15.00, 75.00, 1.50),
    "claude-sonnet-4-5": Price(3.00, 15.00, 0.30),
    "claude-sonnet-4": Price(3.00, 15.00, 0.30),
    "claude-sonnet-4-0": Price(3.00, 15.00, 0.30),
    "claude-3-7-sonnet": Price(3.00, 15.00, 0.30),
    "claude-3-5-sonnet": Price(3.00, 15.00, 0.30),
    "claude-haiku-4-5": Price(1.00, 5.00, 0.10),
    "claude-3-5-haiku": Price(0.80, 4.00, 0.08),
    "claude-3-opus": Price(15.00, 75.00, 1.50),
    "claude-3-haiku": Price(0.25, 1.25, 0.03),
}

# Dated snapshots (gpt-4o-2024-08-06, claude-sonnet-4-5-20250929) and "-latest" aliases
# cost what their family costs.
_SUFFIX = re.compile(r"(-\d{4}-\d{2}-\d{2}|-\d{8}|-latest)$")


class PriceTable:
    """Looks up a model's price: exact name first, then without a date or ``-latest`` suffix."""

    def __init__(self, prices: Mapping[str, Price]) -> None:
        self._prices = dict(prices)

    def get(self, model: str) -> Price | None:
        if model in self._prices:
            return self._prices[model]
        base = _SUFFIX.sub("", model)
        return self._prices.get(base)

    def cost(self, model: str, usage: Usage) -> float | None:
        price = self.get(model)
        return None if price is None else price.cost(usage)

    def with_overrides(self, overrides: Mapping[str, Price]) -> PriceTable:
        return PriceTable({**self._prices, **overrides})

    def load_overrides(self, path: Path) -> PriceTable:
        """Extend the table with a YAML file of ``model: {input, output, cached_input}``."""
        data, lines = load_yaml_file(path)
        if not isinstance(data, Mapping):
            raise SuiteError("a price file maps model names to {input, output, cached_input}", path=path)
        parsed: dict[str, Price] = {}
        for model, entry in data.items():
            parsed[str(model)] = _parse_price(entry, path, lines.line((model,)), str(model))
        return self.with_overrides(parsed)

    def __contains__(self, model: object) -> bool:
        return isinstance(model, str) and self.get(model) is not None


def _parse_price(entry: Any, path: Path, line: int | None, model: str) -> Price:
    if not isinstance(entry, Mapping) or not {"input", "output"} <= set(entry):
        raise SuiteError(
            f"price of {model!r} needs `input` and `output` (USD per million tokens), "
            "e.g. {input: 0.15, output: 0.60, cached_input: 0.075}",
            path=path,
            line=line,
        )
    unknown = set(entry) - {"input", "output", "cached_input"}
    if unknown:
        raise SuiteError(f"price of {model!r}: unknown key(s) {sorted(unknown)}", path=path, line=line)
    try:
        values = {k: float(v) for k, v in entry.items() if v is not None}
    except (TypeError, ValueError):
        raise SuiteError(f"price of {model!r}: prices must be numbers", path=path, line=line) from None
    if any(v < 0 for v in values.values()):
        raise SuiteError(f"price of {model!r}: prices cannot be negative", path=path, line=line)
    return Price(values["input"], values["output"], values.get("cached_input"))


def default_prices() -> PriceTable:
    """The built-in table."""
    return PriceTable(_BUILTIN)
