"""Model prices and the cost of a call: which source prices a model, and what the call cost.

Prices are looked up in this order, and the first that knows the model wins:

1. the provider's own ``price:`` (``price: 0`` marks a local model; ``ollama:`` is local too);
2. the ``llmops_prices`` file, USD per million tokens::

       gpt-4o-mini: {input: 0.15, output: 0.60, cached_input: 0.075}
       my-finetune: {input: 0.30, output: 1.20, cache_write: 0.375}

3. ``genai-prices`` (the pydantic team's table of ~2,300 models from ~47 providers, with
   cache-write and long-context tiers and provider-aware ids), asked with the provider's kind
   (``bedrock:`` asks for AWS's ids, ``vertex:`` for Google's, ``openrouter:`` for OpenRouter's);
4. the built-in table below (``PRICES_AS_OF``), for an install without genai-prices and for
   models it does not list.

A model no source knows has cost ``None`` and is reported as "unpriced" -- never as free.
genai-prices takes about a second to import, so it is imported on the first lookup that needs
it, never when the plugin loads.
"""

from __future__ import annotations

import math
import re
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..errors import SuiteError
from ..results import Usage
from ..spec.yamlio import load_yaml_file

__all__ = [
    "BUILTIN_SOURCE",
    "GENAI_PROVIDERS",
    "LOCAL_KINDS",
    "LOCAL_SOURCE",
    "PRICES_AS_OF",
    "Price",
    "PriceTable",
    "Quote",
    "default_prices",
    "genai_prices_version",
    "parse_price",
]

#: The day the built-in table was last checked against the providers' pricing pages.
PRICES_AS_OF = "2026-11-30"
BUILTIN_SOURCE = f"pytest-llmops built-in table {PRICES_AS_OF}"
#: What a local model's cost (zero) is attributed to.
LOCAL_SOURCE = "local model (price 0)"
#: Provider kinds whose models run on the user's own machine: they cost nothing.
LOCAL_KINDS = frozenset({"ollama"})
#: Provider kinds and the genai-prices provider whose ids and prices they use.
GENAI_PROVIDERS: Mapping[str, str] = {
    "openai": "openai",
    "openai-responses": "openai",
    "azure": "azure",
    "anthropic": "anthropic",
    "google": "google",
    "vertex": "google",
    "bedrock": "aws",
    "openrouter": "openrouter",
    "mistral": "mistral",
}


@dataclass(frozen=True, slots=True)
class Price:
    """USD per million tokens, at one tier."""

    input: float
    output: float
    cached_input: float | None = None
    cache_write: float | None = None

    def cost(self, usage: Usage) -> float:
        cached = min(usage.cached_tokens, usage.input_tokens)
        written = min(usage.cache_write_tokens, usage.input_tokens - cached)
        cached_rate = self.cached_input if self.cached_input is not None else self.input
        write_rate = self.cache_write if self.cache_write is not None else self.input
        return (
            (usage.input_tokens - cached - written) * self.input
            + cached * cached_rate
            + written * write_rate
            + usage.output_tokens * self.output
        ) / 1_000_000


#: A price that costs nothing: local models.
FREE = Price(0.0, 0.0, 0.0, 0.0)


@dataclass(frozen=True, slots=True)
class Quote:
    """The cost of one call and the source that priced it (both None: unpriced)."""

    cost_usd: float | None
    source: str | None = None


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
    # Anthropic: cached_input is the cache-read price, cache_write the 5-minute cache write
    # (1.25x input). Long-context tiers are genai-prices' to apply; this table is the fallback.
    "claude-sonnet-5-5": Price(2.00, 10.00, 0.10),
    "claude-sonnet-5": Price(2.00, 10.00, 0.20),
    "claude-opus-4-7": Price(5.00, 25.00, 0.50, 6.25),
    "claude-opus-4-6": Price(5.00, 25.00, 0.50, 6.25),
    "claude-sonnet-4-6": Price(3.00, 15.00, 0.30, 3.75),
    "claude-opus-4-5": Price(5.00, 25.00, 0.50, 6.25),
    "claude-opus-4-1": Price(15.00, 75.00, 1.50, 18.75),
    "claude-opus-4": Price(15.00, 75.00, 1.50, 18.75),
    "claude-opus-4-0": Price(15.00, 75.00, 1.50, 18.75),
    "claude-sonnet-4-5": Price(3.00, 15.00, 0.30, 3.75),
    "claude-sonnet-4": Price(3.00, 15.00, 0.30, 3.75),
    "claude-sonnet-4-0": Price(3.00, 15.00, 0.30, 3.75),
    "claude-3-7-sonnet": Price(3.00, 15.00, 0.30, 3.75),
    "claude-3-5-sonnet": Price(3.00, 15.00, 0.30, 3.75),
    "claude-haiku-4-5": Price(1.00, 5.00, 0.10, 1.25),
    "claude-3-5-haiku": Price(0.80, 4.00, 0.08, 1.00),
    "claude-3-opus": Price(15.00, 75.00, 1.50, 18.75),
    "claude-3-haiku": Price(0.25, 1.25, 0.03, 0.30),
}

# Dated snapshots (gpt-4o-2024-08-06, claude-sonnet-4-5-20250929) and "-latest" aliases
# cost what their family costs.
_SUFFIX = re.compile(r"(-\d{4}-\d{2}-\d{2}|-\d{8}|-latest)$")


def _lookup(prices: Mapping[str, Price], model: str) -> Price | None:
    if model in prices:
        return prices[model]
    return prices.get(_SUFFIX.sub("", model))


_GENAI_LOCK = threading.Lock()
_GENAI: dict[str, Any] = {}


def _genai() -> Any | None:
    """The genai-prices module, imported on first use; None when it is not installed."""
    if "module" in _GENAI:  # after the first use, without the lock (the entry is never removed)
        return _GENAI["module"]
    with _GENAI_LOCK:
        if "module" not in _GENAI:
            module: Any = None
            try:
                import genai_prices

                module = genai_prices
            except ImportError:  # an install without it: the built-in table serves
                pass
            _GENAI["module"] = module
        return _GENAI["module"]


def genai_prices_version() -> str | None:
    """The installed genai-prices version (read from its metadata, without importing it)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("genai-prices")
    except PackageNotFoundError:
        return None


#: Quotes already made, by (model, provider, token counts, minute); genai-prices spends about
#: 0.14 ms on each call (it decomposes the usage into its units every time), and repeats, judges
#: and replays often price identical counts.
_QUOTES: OrderedDict[tuple[Any, ...], Quote | None] = OrderedDict()
_QUOTES_SIZE = 4096


def _genai_quote(model: str, usage: Usage, provider: str | None) -> Quote | None:
    module = _genai()
    if module is None:
        return None
    genai_provider = GENAI_PROVIDERS.get(provider or "")
    counts = (
        usage.input_tokens,
        usage.output_tokens,
        min(usage.cached_tokens, usage.input_tokens),
        usage.cache_write_tokens,
    )
    # Priced at the start of the current minute: a price's dates and time-of-day windows are
    # whole minutes, so the memo returns exactly what genai-prices says for that instant.
    minute = datetime.now(tz=UTC).replace(second=0, microsecond=0)
    key = (module, model, genai_provider, counts, minute)
    with _GENAI_LOCK:
        if key in _QUOTES:
            _QUOTES.move_to_end(key)
            return _QUOTES[key]
    quote = _genai_calc(module, model, genai_provider, counts, minute)
    with _GENAI_LOCK:
        _QUOTES[key] = quote
        if len(_QUOTES) > _QUOTES_SIZE:
            _QUOTES.popitem(last=False)
    return quote


def _genai_calc(
    module: Any, model: str, provider: str | None, counts: tuple[int, int, int, int], when: datetime
) -> Quote | None:
    usage = module.Usage(
        input_tokens=counts[0],
        output_tokens=counts[1],
        cache_read_tokens=counts[2],
        cache_write_tokens=counts[3],
    )
    try:
        calculation = module.calc_price(usage, model, provider_id=provider, genai_request_timestamp=when)
    except LookupError:
        return None
    total: Decimal = calculation.total_price
    source = f"genai-prices {module.__version__} ({calculation.provider.id}:{calculation.model.id})"
    return Quote(float(total), source)


class PriceTable:
    """Looks up a model's price: the overrides file, then genai-prices, then the built-in table.

    Within a table a name is looked up exactly, then without a date or ``-latest`` suffix.
    """

    def __init__(
        self,
        prices: Mapping[str, Price],
        *,
        overrides: Mapping[str, Price] | None = None,
        overrides_source: str = "llmops_prices",
        use_genai_prices: bool = False,
    ) -> None:
        self._prices = dict(prices)
        self._overrides = dict(overrides or {})
        self._overrides_source = overrides_source
        self.use_genai_prices = use_genai_prices

    def get(self, model: str) -> Price | None:
        """The flat price of the overrides or the built-in table (genai-prices is not asked)."""
        return _lookup(self._overrides, model) or _lookup(self._prices, model)

    def quote(
        self, model: str, usage: Usage, *, provider: str | None = None, price: Price | None = None
    ) -> Quote:
        """The cost of a call and its source; ``provider`` is the provider's kind (``bedrock``).

        ``price`` is the provider's own ``price:`` setting, which wins over every table.
        """
        if price is not None:
            return Quote(price.cost(usage), LOCAL_SOURCE if price == FREE else "provider price")
        if provider in LOCAL_KINDS:
            return Quote(0.0, LOCAL_SOURCE)
        override = _lookup(self._overrides, model)
        if override is not None:
            return Quote(override.cost(usage), self._overrides_source)
        if self.use_genai_prices and model:
            quoted = _genai_quote(model, usage, provider)
            if quoted is not None:
                return quoted
        builtin = _lookup(self._prices, model)
        if builtin is not None:
            return Quote(builtin.cost(usage), BUILTIN_SOURCE)
        return Quote(None)

    def cost(self, model: str, usage: Usage, *, provider: str | None = None) -> float | None:
        return self.quote(model, usage, provider=provider).cost_usd

    def with_overrides(self, overrides: Mapping[str, Price], source: str = "llmops_prices") -> PriceTable:
        return PriceTable(
            self._prices,
            overrides={**self._overrides, **overrides},
            overrides_source=source,
            use_genai_prices=self.use_genai_prices,
        )

    def load_overrides(self, path: Path) -> PriceTable:
        """Extend the table with a YAML file of ``model: {input, output, cached_input, cache_write}``."""
        data, lines = load_yaml_file(path)
        if not isinstance(data, Mapping):
            raise SuiteError("a price file maps model names to {input, output, cached_input}", path=path)
        parsed: dict[str, Price] = {}
        for model, entry in data.items():
            parsed[str(model)] = parse_price(entry, f"price of {str(model)!r}", path, lines.line((model,)))
        return self.with_overrides(parsed, f"llmops_prices {path.name}")

    def __contains__(self, model: object) -> bool:
        return isinstance(model, str) and self.get(model) is not None


_PRICE_KEYS = ("input", "output", "cached_input", "cache_write")


def parse_price(entry: Any, what: str, path: Path | None = None, line: int | None = None) -> Price:
    """A price from ``{input, output, cached_input, cache_write}`` (USD per million), or ``0``."""
    if entry == 0 and not isinstance(entry, bool):
        return FREE
    if not isinstance(entry, Mapping) or not {"input", "output"} <= set(entry):
        raise SuiteError(
            f"{what} needs `input` and `output` (USD per million tokens), "
            "e.g. {input: 0.15, output: 0.60, cached_input: 0.075}",
            path=path,
            line=line,
        )
    unknown = set(entry) - set(_PRICE_KEYS)
    if unknown:
        raise SuiteError(f"{what}: unknown key(s) {sorted(unknown)}", path=path, line=line)
    values: dict[str, float] = {}
    for key, raw in entry.items():
        if raw is None:
            continue
        try:
            if isinstance(raw, bool):
                raise TypeError
            values[key] = float(raw)
        except (TypeError, ValueError, OverflowError):
            raise SuiteError(f"{what}: prices must be numbers", path=path, line=line) from None
        if not math.isfinite(values[key]):
            # NaN would price every case at NaN; infinity would break every cost gate.
            raise SuiteError(
                f"{what}: `{key}` is {raw!r}; a price must be a finite number of USD per million tokens",
                path=path,
                line=line,
            )
    if any(v < 0 for v in values.values()):
        raise SuiteError(f"{what}: prices cannot be negative", path=path, line=line)
    return Price(values["input"], values["output"], values.get("cached_input"), values.get("cache_write"))


def default_prices() -> PriceTable:
    """genai-prices (when installed) over the built-in table."""
    return PriceTable(_BUILTIN, use_genai_prices=True)
