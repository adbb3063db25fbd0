"""Values that describe a model call and a case's outcome.

They are frozen and slotted. ``CaseResult`` has one serialised form, ``to_dict``/``from_dict``:
the case entry of the JSON report (schema_version 1). The same dict rides on pytest's test
reports (``user_properties``) from xdist workers to the controller, and a baseline report is read
back with ``from_dict``.
"""

from __future__ import annotations

import enum
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

__all__ = [
    "AssertionResult",
    "CaseResult",
    "Grade",
    "JudgeCheckResult",
    "LLMResponse",
    "Message",
    "Outcome",
    "ToolCall",
    "Usage",
]


class Outcome(enum.StrEnum):
    """How a case ended. ``UNSCORED``: a judge's reply could not be read (neither pass nor fail)."""

    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    UNSCORED = "unscored"

    @property
    def failing(self) -> bool:
        """Failed or errored: what a baseline comparison counts as a failure."""
        return self in (Outcome.FAILED, Outcome.ERROR)


@dataclass(frozen=True, slots=True)
class Message:
    """One chat message.

    ``content`` is always its text. A message of content parts (an image beside the text,
    Anthropic's ``cache_control``) also keeps ``parts``, the parts as written; providers send
    those, in their API's form, and ``content`` then holds the text parts joined.
    """

    role: str
    content: str
    parts: tuple[Mapping[str, Any], ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        """``{role, content}`` (and ``parts`` when it has them): the report's form."""
        if self.parts is None:
            return {"role": self.role, "content": self.content}
        return {"role": self.role, "content": self.content, "parts": [dict(p) for p in self.parts]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Message:
        parts = data.get("parts")
        return cls(
            _shared(str(data["role"])),
            str(data["content"]),  # rendered per case: not interned (3.12 never frees interned text)
            tuple(dict(p) for p in parts) if isinstance(parts, list) else None,
        )

    @classmethod
    def of_parts(cls, role: str, parts: Sequence[Mapping[str, Any]]) -> Message:
        """A message of content parts; its ``content`` is the text of its text parts."""
        text = "\n".join(str(p.get("text", "")) for p in parts if p.get("type") == "text")
        return cls(role, text, tuple(dict(p) for p in parts))


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts of one or more calls."""

    #: Every input token, cache reads and writes included.
    input_tokens: int = 0
    output_tokens: int = 0
    #: Input tokens read from the provider's prompt cache (priced at the cache-read rate).
    cached_tokens: int = 0
    #: Input tokens written to the prompt cache (Anthropic, Bedrock: priced above the input rate).
    cache_write_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cached_tokens + other.cached_tokens,
            self.cache_write_tokens + other.cache_write_tokens,
        )

    def to_dict(self) -> dict[str, int]:
        """The report's form: ``{input, output, cached}``, and ``cache_write`` when there were any."""
        out = {"input": self.input_tokens, "output": self.output_tokens, "cached": self.cached_tokens}
        if self.cache_write_tokens:
            out["cache_write"] = self.cache_write_tokens
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Usage:
        data = data or {}
        usage = cls(
            int(data.get("input", 0)),
            int(data.get("output", 0)),
            int(data.get("cached", 0)),
            int(data.get("cache_write", 0)),
        )
        # Frozen, so one zero serves every case without judge calls (100,000 results: 6 MB).
        return _NO_TOKENS if usage == _NO_TOKENS else usage


_NO_TOKENS = Usage()


def _shared(text: Any) -> Any:
    """One string object for a value many results repeat (prompt, version, provider, model).

    A result read from its report has its own copy of each string: under xdist every case's
    would be a separate object, held to the end of the run.
    """
    return sys.intern(text) if type(text) is str else text


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One tool (function) call a model asked for, in any provider's wire format."""

    name: str
    #: The arguments as the model wrote them (OpenAI sends a JSON string; others an object).
    raw_arguments: str
    #: ``raw_arguments`` parsed, or None when they are not a JSON object.
    arguments: Mapping[str, Any] | None = None
    id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "arguments": dict(self.arguments) if self.arguments is not None else None,
            "raw_arguments": self.raw_arguments,
            "id": self.id,
        }


@dataclass(frozen=True, slots=True)
class LLMResponse:
    """What a provider returned for one call."""

    text: str
    provider: str
    model: str
    usage: Usage = field(default_factory=Usage)
    finish_reason: str | None = None
    #: Wall time of the HTTP exchange; on replay, the time measured when it was recorded.
    latency_ms: float = 0.0
    ttft_ms: float | None = None
    #: USD, or None when the model has no price (reported as "unpriced", never as free).
    cost_usd: float | None = None
    replayed: bool = False
    metadata: Mapping[str, Any] = field(default_factory=dict)
    #: Tool calls the model asked for (its text may then be empty).
    tool_calls: tuple[ToolCall, ...] = ()
    #: Structured output: the answer parsed as JSON when the request asked for JSON (a schema,
    #: ``json_object``, Gemini's ``responseMimeType``, Ollama's ``format``); None otherwise.
    structured: Any = None
    #: Where the price came from, e.g. ``genai-prices 0.2.3`` (set when the response is priced).
    price_source: str | None = None
    #: False when nobody reported the tokens (an application that returned plain text and whose
    #: calls' responses say nothing): the call is then unpriced, never priced at $0.
    usage_known: bool = True


@dataclass(frozen=True, slots=True)
class Grade:
    """What one assertion check concluded, before ``not-`` and weights apply."""

    passed: bool
    score: float
    reason: str
    #: A judge's reply could not be parsed (even after a retry): neither a pass nor a zero.
    unscored: bool = False
    #: The judge's raw reply, kept for reports when it matters (unscored, or for reading).
    raw: str | None = None


@dataclass(frozen=True, slots=True)
class AssertionResult:
    """One assertion's outcome within a case."""

    type: str
    passed: bool
    score: float
    reason: str
    weight: float = 1.0
    metric: str | None = None
    line: int | None = None
    unscored: bool = False
    raw: str | None = None

    def to_dict(self) -> dict[str, Any]:
        # Built by hand: dataclasses.asdict deep-copies every value, a cost paid per case.
        return {name: getattr(self, name) for name in _ASSERTION_FIELDS}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AssertionResult:
        return cls(
            type=_shared(str(data["type"])),
            passed=bool(data["passed"]),
            score=float(data["score"]),
            reason=str(data.get("reason", "")),
            weight=float(data.get("weight", 1.0)),
            metric=_shared(data.get("metric")),
            line=data.get("line"),
            unscored=bool(data.get("unscored", False)),
            raw=data.get("raw"),
        )


@dataclass(frozen=True, slots=True)
class CaseResult:
    """Everything measured for one case (one item): the unit of reports and gates."""

    nodeid: str
    suite: str
    case: str
    outcome: Outcome
    prompt: str | None = None
    prompt_version: str | None = None
    provider: str = ""
    model: str = ""
    score: float | None = None
    threshold: float | None = None
    assertions: tuple[AssertionResult, ...] = ()
    usage: Usage = field(default_factory=Usage)
    cost_usd: float | None = None
    latency_ms: float | None = None
    ttft_ms: float | None = None
    replayed: bool = False
    output: str | None = None
    #: What the assertions saw when a `transform:` changed the output (as text); else None.
    transformed_output: str | None = None
    error: str | None = None
    tags: tuple[str, ...] = ()
    #: Judge calls are counted apart from the application's.
    judge_usage: Usage = field(default_factory=Usage)
    judge_cost_usd: float | None = None
    #: Judge assertions whose reply could not be parsed (reported, never a silent pass or zero).
    judge_failures: int = 0
    #: The provider that finally answered, when fallbacks were tried.
    answered_by: str | None = None
    retries: int = 0
    #: The rendered messages sent to the model.
    messages: tuple[Message, ...] = ()
    #: One entry per run when the case is repeated: {"run", "outcome", "score", "error", "output"}.
    runs: tuple[Mapping[str, Any], ...] = ()
    #: Where the case is written: ``path:line``.
    location: str = ""
    #: How repeated runs were reduced, e.g. "pass_rate 0.8: at least 80% of 5 runs must pass".
    reduce: str | None = None
    #: The case made no call because ``--llmops-budget`` was spent.
    budget_exhausted: bool = False
    #: Which price source priced the model, e.g. ``genai-prices 0.2.3``; None when unpriced.
    price_source: str | None = None

    @property
    def variant(self) -> str:
        """The prompt version × model this case ran as, e.g. ``support@2.1.0 × openai:gpt-4o``."""
        prompt = f"{self.prompt}@{self.prompt_version}" if self.prompt else "(no prompt)"
        return f"{prompt} × {self.provider}"

    @property
    def unpriced(self) -> bool:
        """A model answered but has no price: the cost is unknown, not zero."""
        return self.outcome is not Outcome.ERROR and self.cost_usd is None and bool(self.model)

    def to_dict(self) -> dict[str, Any]:
        """The case as the JSON report writes it (the only serialised form)."""
        return {
            "id": self.nodeid,
            "suite": self.suite,
            "case": self.case,
            "location": self.location,
            "variant": self.variant,
            "prompt": self.prompt,
            "prompt_version": self.prompt_version,
            "provider": self.provider,
            "model": self.model,
            "answered_by": self.answered_by,
            "outcome": self.outcome.value,
            "score": self.score,
            "threshold": self.threshold,
            "assertions": [a.to_dict() for a in self.assertions],
            "tokens": self.usage.to_dict(),
            "cost_usd": self.cost_usd,
            "unpriced": self.unpriced,
            "judge_tokens": self.judge_usage.to_dict(),
            "judge_cost_usd": self.judge_cost_usd,
            "judge_failures": self.judge_failures,
            "latency_ms": self.latency_ms,
            "ttft_ms": self.ttft_ms,
            "replayed": self.replayed,
            "retries": self.retries,
            "tags": list(self.tags),
            "output": self.output,
            "transformed_output": self.transformed_output,
            "messages": [m.to_dict() for m in self.messages],
            "runs": [dict(r) for r in self.runs],
            "error": self.error,
            "reduce": self.reduce,
            "budget_exhausted": self.budget_exhausted,
            "price_source": self.price_source,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CaseResult:
        """A case entry of a report (or of a test report's properties) back as a result."""
        return cls(
            nodeid=str(data["id"]),
            suite=_shared(str(data.get("suite", ""))),
            case=str(data.get("case", "")),
            outcome=Outcome(data["outcome"]),
            prompt=_shared(data.get("prompt")),
            prompt_version=_shared(data.get("prompt_version")),
            provider=_shared(str(data.get("provider", ""))),
            model=_shared(str(data.get("model", ""))),
            score=data.get("score"),
            threshold=data.get("threshold"),
            assertions=tuple(AssertionResult.from_dict(a) for a in data.get("assertions", ())),
            usage=Usage.from_dict(data.get("tokens")),
            cost_usd=data.get("cost_usd"),
            latency_ms=data.get("latency_ms"),
            ttft_ms=data.get("ttft_ms"),
            replayed=bool(data.get("replayed", False)),
            output=data.get("output"),
            transformed_output=data.get("transformed_output"),
            error=data.get("error"),
            tags=tuple(data.get("tags", ())),
            judge_usage=Usage.from_dict(data.get("judge_tokens")),
            judge_cost_usd=data.get("judge_cost_usd"),
            judge_failures=int(data.get("judge_failures", 0)),
            answered_by=_shared(data.get("answered_by")),
            retries=int(data.get("retries", 0)),
            messages=tuple(Message.from_dict(m) for m in data.get("messages", ())),
            runs=tuple(data.get("runs", ())),
            location=str(data.get("location", "")),
            reduce=_shared(data.get("reduce")),
            budget_exhausted=bool(data.get("budget_exhausted", False)),
            price_source=_shared(data.get("price_source")),
        )


@dataclass(frozen=True, slots=True)
class JudgeCheckResult:
    """One labelled example run against its judge: what a person said, what the judge said.

    ``judge_verdict`` is ``pass``, ``fail``, ``unscored`` (the judge's reply could not be read) or
    ``error`` (the judge could not be called); only the first two are compared with the person.
    The dict form is the JSON report's ``judge_checks`` entry.
    """

    nodeid: str
    suite: str
    name: str
    #: The assertion as written, e.g. ``llm-rubric`` or ``not-safety``.
    type: str
    #: The judge (provider) that gave the verdict.
    judge: str
    human_verdict: str
    judge_verdict: str
    score: float | None = None
    reason: str = ""
    location: str = ""
    note: str | None = None
    replayed: bool = False
    judge_usage: Usage = field(default_factory=Usage)
    judge_cost_usd: float | None = None

    @property
    def base_type(self) -> str:
        """The judge type without ``not-``: what agreement is reported per."""
        return self.type.removeprefix("not-")

    @property
    def scored(self) -> bool:
        return self.judge_verdict in ("pass", "fail")

    @property
    def agreed(self) -> bool | None:
        """Whether the judge agreed with the person; None when it gave no verdict."""
        return self.judge_verdict == self.human_verdict if self.scored else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.nodeid,
            "suite": self.suite,
            "name": self.name,
            "location": self.location,
            "type": self.type,
            "judge": self.judge,
            "human_verdict": self.human_verdict,
            "judge_verdict": self.judge_verdict,
            "agreed": self.agreed,
            "score": self.score,
            "reason": self.reason,
            "note": self.note,
            "replayed": self.replayed,
            "judge_tokens": self.judge_usage.to_dict(),
            "judge_cost_usd": self.judge_cost_usd,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> JudgeCheckResult:
        return cls(
            nodeid=str(data["id"]),
            suite=str(data.get("suite", "")),
            name=str(data.get("name", "")),
            type=str(data["type"]),
            judge=str(data.get("judge", "")),
            human_verdict=str(data["human_verdict"]),
            judge_verdict=str(data["judge_verdict"]),
            score=data.get("score"),
            reason=str(data.get("reason", "")),
            location=str(data.get("location", "")),
            note=data.get("note"),
            replayed=bool(data.get("replayed", False)),
            judge_usage=Usage.from_dict(data.get("judge_tokens")),
            judge_cost_usd=data.get("judge_cost_usd"),
        )


_ASSERTION_FIELDS = tuple(f.name for f in fields(AssertionResult))
