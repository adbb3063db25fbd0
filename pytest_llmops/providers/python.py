"""``python:package.module:function``: the user's own application is the thing under test.

The function is called as ``function(prompt, vars)`` with the ``RenderedPrompt`` (messages,
model, parameters) and the case's variables; it may be ``async``. It returns the answer text,
or an object or mapping with ``text`` and optional ``usage``, ``cost_usd``, ``model`` and
``metadata``. The HTTP calls it makes, through any client ``recording.capture`` names and from
any thread it starts, are recorded in the case's cassette and replayed like any other.

- A call that recorded (or replayed) no exchange at all is an error: the application called
  the model some way the plugin cannot see, or not at all. ``allow_no_call: true`` on the
  provider accepts a case that deliberately makes none.
- Usage the application does not report is read from the responses of the case's exchanges;
  when it is still unknown the answer is *unpriced*, never free.
- The latency reported is the whole call's, application time included; it is stored with the
  call's first exchange, and a replay reports exactly that, so replays do not vary.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from ..errors import CassetteError, ProviderError, ProviderResponseError, UnattributedCallError
from ..prompts.render import RenderedPrompt
from ..recording.capture import RECORDED_CLIENTS, install
from ..recording.transport import Exchange
from ..results import LLMResponse, Usage
from ..spec.schema import ProviderSpec
from ..spec.validation import suggest
from . import anthropic, bedrock, google, ollama, openai, responses

__all__ = ["AppResponse", "PythonProvider"]


@dataclass(frozen=True, slots=True)
class AppResponse:
    """What an application under test may return instead of plain text."""

    text: str
    usage: Usage | None = None
    cost_usd: float | None = None
    model: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)


def _load(target: str, provider_id: str) -> Callable[..., Any]:
    module_name, _, function_name = target.rpartition(":")
    if not module_name or not function_name:
        raise ValueError(
            f"provider {provider_id!r}: write `python:package.module:function`, e.g. python:myapp.bot:answer"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(
            f"provider {provider_id!r}: cannot import module {module_name!r} ({exc}). Is it on sys.path? "
            "Install your package, or add its folder to pytest's `pythonpath` ini key."
        ) from None
    except Exception as exc:  # the module's own code failed: a collection error, not a traceback
        raise ValueError(
            f"provider {provider_id!r}: importing module {module_name!r} raised {type(exc).__name__}: {exc}"
        ) from None
    function = getattr(module, function_name, None)
    if not callable(function):
        names = [n for n in dir(module) if not n.startswith("_") and callable(getattr(module, n))]
        raise ValueError(
            f"provider {provider_id!r}: module {module_name!r} has no function {function_name!r}."
            + suggest(function_name, names)
        )
    try:
        inspect.signature(function).bind(object(), object())
    except TypeError:
        raise ValueError(
            f"provider {provider_id!r}: {target} must accept two arguments: (prompt, vars)"
        ) from None
    except ValueError:  # builtins without a signature: let the call decide
        pass
    return function  # type: ignore[no-any-return]


def _usage(value: Any) -> Usage | None:
    if value is None or isinstance(value, Usage):
        return value
    if isinstance(value, Mapping):
        return Usage(
            input_tokens=int(value.get("input_tokens", value.get("prompt_tokens", 0)) or 0),
            output_tokens=int(value.get("output_tokens", value.get("completion_tokens", 0)) or 0),
            cached_tokens=int(value.get("cached_tokens", 0) or 0),
        )
    raise TypeError(f"usage must be a mapping or Usage, not {type(value).__name__}")


@dataclass(frozen=True)
class PythonProvider:
    """Calls the application's function; its own HTTP calls go through the case's cassette."""

    spec: ProviderSpec
    function: Callable[..., Any] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        target = self.spec.id.partition(":")[2]
        object.__setattr__(self, "function", _load(target, self.spec.id))
        install()  # the application's own calls must reach the case's cassette

    @property
    def id(self) -> str:
        return self.spec.display

    def read_recorded(self, body: bytes) -> LLMResponse | None:
        """An application's recorded calls may be in any API's format: ask each reader."""
        readers = (openai, anthropic, responses, google, bedrock, ollama)
        return next((r for reader in readers if (r := reader.read_recorded(body)) is not None), None)

    def complete(self, prompt: RenderedPrompt, client: httpx.Client) -> LLMResponse:
        transport = client._transport  # the case's cassette transport
        exchanges: list[Exchange] = getattr(transport, "exchanges", [])
        failures: list[str] = getattr(transport, "failures", [])
        seen, failed = len(exchanges), len(failures)
        started = time.perf_counter()
        try:
            if inspect.iscoroutinefunction(self.function):
                result = asyncio.run(self.function(prompt, dict(prompt.variables)))
            else:
                result = self.function(prompt, dict(prompt.variables))
                if inspect.isawaitable(result):
                    result = asyncio.run(_await(result))
        except ProviderError:
            raise
        except Exception as exc:
            cause = exc.__cause__ or exc.__context__
            for candidate in (exc, cause):
                if isinstance(candidate, CassetteError):
                    raise candidate from None
            if len(failures) > failed:
                raise UnattributedCallError(failures[failed]) from None
            raise ProviderError(
                f"{self.id}: the application raised {type(exc).__name__}: {exc}", provider=self.id
            ) from exc
        elapsed = round((time.perf_counter() - started) * 1000.0, 3)
        if len(failures) > failed:  # the application caught the error and answered anyway
            raise UnattributedCallError(failures[failed])
        mine = exchanges[seen:]
        if not mine and not self.spec.allow_no_call:
            raise ProviderError(
                f"{self.id}: the application made no model call that could be recorded. Recorded "
                f"clients: {', '.join(RECORDED_CLIENTS)}, from the case's thread, its asyncio "
                "tasks and the threads and executors it starts. Either it reached the model some "
                "other way (grpc, websockets, a subprocess), or it did not call a model at all; "
                "if that is deliberate, set `allow_no_call: true` on the provider.",
                provider=self.id,
            )
        replayed = bool(mine) and all(e.replayed for e in mine)
        if replayed:
            recorded = mine[0].facts.get("call_latency_ms")
            # Older recordings lack the call's own time: the exchanges' recorded time, plus now's.
            latency = (
                float(recorded)
                if isinstance(recorded, (int, float))
                else elapsed + sum(float(e.facts.get("latency_ms", 0.0)) for e in mine)
            )
        else:
            latency = elapsed
            if mine:
                mine[0].facts["call_latency_ms"] = elapsed  # saved with the recording
        return self._response(result, latency_ms=latency, replayed=replayed, prompt=prompt, exchanges=mine)

    def _response(
        self,
        result: Any,
        *,
        latency_ms: float,
        replayed: bool,
        prompt: RenderedPrompt,
        exchanges: list[Exchange] = (),  # type: ignore[assignment]
    ) -> LLMResponse:
        text: Any
        usage: Usage | None = None
        cost: Any = None
        model: Any = None
        metadata: Any = {}
        if isinstance(result, str):
            text = result
        elif isinstance(result, Mapping) or hasattr(result, "text"):
            get = (
                result.get
                if isinstance(result, Mapping)
                else lambda key, default=None: getattr(result, key, default)
            )
            text = get("text")
            if not isinstance(text, str):
                raise ProviderResponseError(
                    f"{self.id}: the application returned `text` of type {type(text).__name__}; expected str",
                    provider=self.id,
                )
            try:
                usage = _usage(get("usage"))
            except (TypeError, ValueError) as exc:
                raise ProviderResponseError(f"{self.id}: {exc}", provider=self.id) from None
            cost, model, metadata = get("cost_usd"), get("model"), get("metadata") or {}
        else:
            raise ProviderResponseError(
                f"{self.id}: the application returned {type(result).__name__}; return the answer text, "
                "or an object/mapping with `text` (and optional usage, cost_usd, model, metadata)",
                provider=self.id,
            )
        # Nothing called (a deliberate `allow_no_call` case) costs nothing, and that is known.
        usage_known = usage is not None or cost is not None or not exchanges
        if usage is None and exchanges:
            recorded_usage, recorded_model = self._recorded_usage(exchanges)
            if recorded_usage is not None:
                usage, usage_known = recorded_usage, True
                model = model or recorded_model
        return LLMResponse(
            text=text,
            provider=self.id,
            # The id names the function, not a model: the model comes from the app or the prompt.
            model=str(model or prompt.model or self.spec.id),
            usage=usage or Usage(),
            usage_known=usage_known,
            latency_ms=latency_ms,
            cost_usd=float(cost) if cost is not None else None,
            replayed=replayed,
            metadata=dict(metadata),
        )

    def _recorded_usage(self, exchanges: list[Exchange]) -> tuple[Usage | None, str | None]:
        """The usage the case's responses report, summed; None when any model answer lacks it."""
        total: Usage | None = None
        model: str | None = None
        for exchange in exchanges:
            if not 200 <= exchange.status < 300:
                continue
            answer = self.read_recorded(exchange.body)
            if answer is None or answer.usage.total_tokens == 0:
                return None, None  # a call whose tokens nobody reported: the cost is unknown
            total = answer.usage if total is None else total + answer.usage
            model = model or answer.model or None
        return total, model


async def _await(awaitable: Any) -> Any:
    return await awaitable
