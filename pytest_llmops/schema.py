"""pydantic models of what users write: suite files, prompt files, providers and assertions.

Every model forbids unknown keys, so a typo is an error with a "did you mean", not a silent no-op.
``validation_message`` turns pydantic's errors into lines that name the file, line and field.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Union

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from .errors import SuiteError
from .yamlio import LineMap

__all__ = [
    "AssertionSpec",
    "CaseSpec",
    "DefaultsSpec",
    "MessageSpec",
    "PromptFileSpec",
    "ProviderSpec",
    "SuiteSpec",
    "parse_model",
    "suggest",
]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_TAG = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _as_list(value: Any) -> Any:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _provider_list(value: Any) -> Any:
    items = _as_list(value)
    if isinstance(items, list):
        return [{"id": item} if isinstance(item, str) else item for item in items]
    return items


class ModelParams(_Model):
    """Model parameters shared by prompt files and providers (providers win)."""

    temperature: float | None = Field(None, ge=0, le=2)
    max_tokens: int | None = Field(None, gt=0)
    top_p: float | None = Field(None, ge=0, le=1)
    seed: int | None = None
    stop: str | list[str] | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    response_format: dict[str, Any] | None = None
    #: Anything else the API accepts, sent as-is in the request body.
    params: dict[str, Any] = Field(default_factory=dict)

    def model_params(self) -> dict[str, Any]:
        """The parameters that are set, ``params`` merged last."""
        out = {k: getattr(self, k) for k in _PARAM_FIELDS if getattr(self, k) is not None}
        out.update(self.params)
        return out


_PARAM_FIELDS = (
    "temperature",
    "max_tokens",
    "top_p",
    "seed",
    "stop",
    "presence_penalty",
    "frequency_penalty",
    "response_format",
)


class ProviderSpec(ModelParams):
    """A provider: ``openai:gpt-4o-mini`` or a mapping with connection settings."""

    id: str = Field(min_length=1)
    label: str | None = None
    base_url: str | None = None
    #: Name of the environment variable that holds the key; the key itself never appears in files.
    api_key_env: str | None = None
    #: Seconds one call may take, the whole of a stream included.
    timeout: float | None = Field(None, gt=0, allow_inf_nan=False)
    #: Read the answer as server-sent events; measures time to first token on live calls.
    stream: bool = False
    #: Tries after the first on 429, 5xx, timeouts and refused connections (default: ini).
    max_retries: int | None = Field(None, ge=0, le=20)
    #: Base of the exponential backoff, in seconds (default: ini).
    retry_backoff: float | None = Field(None, ge=0, allow_inf_nan=False)
    #: Providers tried in order when this one still fails after its retries.
    fallback: Annotated[list[ProviderSpec], BeforeValidator(_provider_list)] = Field(default_factory=list)

    @property
    def kind(self) -> str:
        return self.id.split(":", 1)[0]

    @property
    def model(self) -> str | None:
        _, _, model = self.id.partition(":")
        return model or None

    @property
    def display(self) -> str:
        return self.label or self.id


class AssertionSpec(_Model):
    """One check on a case's output. ``type`` may carry a ``not-`` prefix."""

    type: str = Field(min_length=1)
    value: Any = None
    threshold: float | None = None
    weight: float = Field(1.0, ge=0)
    metric: str | None = None
    min: float | None = None
    max: float | None = None
    #: The judge (or embedding) provider of a model-graded assertion; default: the suite's
    #: `judge:` (or `embedding:`), then the ini key.
    provider: Annotated[
        ProviderSpec | None, BeforeValidator(lambda v: {"id": v} if isinstance(v, str) else v)
    ] = None
    #: g-eval: what is judged, and the evaluation steps written in the suite (never regenerated).
    criteria: str | None = None
    steps: list[str] | None = None
    #: g-eval: the scale the judge scores on, normalised to 0–1.
    scale: tuple[int, int] | None = None

    @property
    def negated(self) -> bool:
        return self.type.startswith("not-")

    @property
    def base_type(self) -> str:
        return self.type[4:] if self.negated else self.type


def _check_tags(tags: list[str]) -> list[str]:
    for tag in tags:
        if not _TAG.match(tag):
            raise ValueError(
                f"tag {tag!r} cannot be a pytest marker: use letters, digits, '_' and '-', "
                "starting with a letter"
            )
    return tags


Tags = Annotated[list[str], BeforeValidator(_as_list)]


def _check_reduce(value: Any) -> Any:
    from .repeats import parse_reduce

    parse_reduce(value)  # raises ValueError with the allowed forms
    return value


Reduce = Annotated[str | dict[str, Any] | None, BeforeValidator(_check_reduce)]


class DefaultsSpec(_Model):
    """Merged into every case of the suite."""

    vars: dict[str, Any] = Field(default_factory=dict)
    assert_: list[AssertionSpec] = Field(default_factory=list, alias="assert")
    threshold: float | None = Field(None, ge=0, le=1)
    tags: Tags = Field(default_factory=list)
    #: Run each case this many times (non-deterministic output), reduced with `reduce`.
    repeat: int | None = Field(None, ge=1, le=1000)
    reduce: Reduce = None


class CaseSpec(_Model):
    """One test case; ``prompt`` and ``category`` come from the dataset (``test_cases:``) shape."""

    name: str = Field(min_length=1)
    description: str | None = None
    vars: dict[str, Any] = Field(default_factory=dict)
    expected: Any = None
    assert_: list[AssertionSpec] = Field(default_factory=list, alias="assert")
    tags: Tags = Field(default_factory=list)
    category: str | None = None
    prompt: str | None = None
    threshold: float | None = Field(None, ge=0, le=1)
    repeat: int | None = Field(None, ge=1, le=1000)
    reduce: Reduce = None
    skip: bool | str = False
    xfail: bool | str = False

    @model_validator(mode="after")
    def _check(self) -> CaseSpec:
        if any(bad in self.name for bad in ("::", "[", "]", "/")):
            raise ValueError(f"case name {self.name!r} may not contain '::', '/', '[' or ']'")
        _check_tags([*self.tags, *([self.category] if self.category else [])])
        return self


class SuiteSpec(_Model):
    """A suite file: prompts × providers × cases."""

    description: str | None = None
    prompt: Annotated[list[str], BeforeValidator(_as_list)] = Field(default_factory=list)
    provider: Annotated[list[ProviderSpec], BeforeValidator(_provider_list)] = Field(min_length=1)
    #: For suites without ``prompt``: a system message sent before each case's input.
    system: str | None = None
    #: The variable that receives a dataset case's ``prompt`` text.
    input_var: str = "input"
    vars: dict[str, Any] = Field(default_factory=dict)
    defaults: DefaultsSpec = Field(default_factory=lambda: DefaultsSpec())
    #: The judge of model-graded assertions in this suite (else ini `llmops_judge`).
    judge: Annotated[
        ProviderSpec | None, BeforeValidator(lambda v: {"id": v} if isinstance(v, str) else v)
    ] = None
    #: The embedding provider of `similar` (else ini `llmops_embedding`, else the judge's endpoint).
    embedding: Annotated[
        ProviderSpec | None, BeforeValidator(lambda v: {"id": v} if isinstance(v, str) else v)
    ] = None
    tests: list[CaseSpec] = Field(default_factory=list)
    test_cases: list[CaseSpec] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> SuiteSpec:
        if not self.tests and not self.test_cases:
            raise ValueError("a suite needs cases: add a `tests:` (or `test_cases:`) list")
        _check_tags(self.defaults.tags)
        labels = [p.display for p in self.provider]
        dupes = sorted({x for x in labels if labels.count(x) > 1})
        if dupes:
            raise ValueError(f"provider {dupes[0]!r} is listed twice; give one a distinct `label`")
        return self


class MessageSpec(_Model):
    role: typing.Literal["system", "user", "assistant"]
    content: str


class PromptFileSpec(ModelParams):
    """A versioned prompt file."""

    name: str = Field(min_length=1)
    version: str = Field(min_length=1)
    description: str | None = None
    model: str | None = None
    system: str | None = None
    user: str | None = None
    messages: list[MessageSpec] | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _versions_are_strings(cls, data: Any) -> Any:
        # YAML reads `version: 2.1` as a float; accept numbers but keep their text.
        if isinstance(data, dict) and isinstance(data.get("version"), (int, float)):
            data = {**data, "version": str(data["version"])}
        return data

    @model_validator(mode="after")
    def _check(self) -> PromptFileSpec:
        if not _NAME.match(self.name) or "@" in self.name:
            raise ValueError(
                f"prompt name {self.name!r}: use letters, digits, '.', '_' and '-' (no '@' or spaces)"
            )
        if self.messages is not None and (self.system is not None or self.user is not None):
            raise ValueError("use either `messages:` or `system:`/`user:`, not both")
        if self.messages is None and self.user is None:
            raise ValueError("a prompt needs a `user:` template or a `messages:` list")
        return self


# --- readable validation errors -------------------------------------------------------------


def suggest(word: str, choices: Sequence[str]) -> str:
    """' Did you mean 'x'?' for a near miss, else ''."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""


def _field_names(model: type[BaseModel]) -> list[str]:
    return [f.alias or name for name, f in model.model_fields.items()]


def _unwrap_model(annotation: Any) -> Any:
    """The pydantic model (or list/dict item type) inside an annotation, if any."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _unwrap_model(typing.get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found = _unwrap_model(arg)
            if found is not None:
                return found
        return None
    if origin in (list, tuple):
        args = typing.get_args(annotation)
        return ("list", _unwrap_model(args[0])) if args else None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _model_at(model: type[BaseModel], loc: Sequence[Any]) -> type[BaseModel] | None:
    current: Any = model
    for part in loc:
        if isinstance(current, tuple):  # ("list", item)
            if isinstance(part, int):
                current = current[1]
                continue
            current = current[1]
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        by_alias = {(f.alias or n): f for n, f in current.model_fields.items()}
        field = by_alias.get(str(part))
        if field is None:
            return None
        current = _unwrap_model(field.annotation)
    if isinstance(current, tuple):
        current = current[1]
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _format_loc(loc: Sequence[Any]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


_MISSING_HINTS = {
    "provider": " Add e.g. `provider: openai:gpt-4o-mini`.",
    "name": " Every case, prompt and message needs a `name`.",
    "type": " Add e.g. `type: contains`.",
    "version": " Add a semantic version, e.g. `version: 1.0.0`.",
    "id": " Add e.g. `id: openai:gpt-4o-mini`.",
}


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def validation_lines(
    exc: ValidationError, model: type[BaseModel], lines: LineMap, path: Path | str
) -> list[str]:
    """One readable line per pydantic error: ``file:line: field: what is wrong.``"""
    out: list[str] = []
    for err in exc.errors(include_url=False):
        loc = tuple(p for p in err["loc"] if isinstance(p, (str, int)))
        line = lines.line(loc)
        where = f"{path}:{line}" if line else str(path)
        kind = err["type"]
        if kind == "extra_forbidden":
            parent = _model_at(model, loc[:-1])
            allowed = _field_names(parent) if parent else []
            key = str(loc[-1])
            hint = suggest(key, allowed)
            allowed_text = f" Allowed keys: {', '.join(allowed)}." if allowed else ""
            out.append(f"{where}: unknown key {key!r} in {_format_loc(loc[:-1])}.{hint}{allowed_text}")
        elif kind == "missing":
            hint = _MISSING_HINTS.get(str(loc[-1]) if loc else "", "")
            out.append(f"{where}: {_format_loc(loc)}: required key is missing.{hint}")
        else:
            msg = err["msg"].removeprefix("Value error, ")
            got = f" (got {_describe(err.get('input'))})" if kind not in ("value_error",) else ""
            out.append(f"{where}: {_format_loc(loc)}: {msg}{got}.")
    return out


M = typing.TypeVar("M", bound=BaseModel)


def parse_model(model: type[M], data: Any, lines: LineMap, path: Path | str, what: str) -> M:
    """Validate ``data`` as ``model``; raise a ``SuiteError`` listing every problem."""
    if not isinstance(data, dict):
        kind = "empty" if data is None else f"a {type(data).__name__}"
        raise SuiteError(f"a {what} must be a YAML mapping, but the file is {kind}", path=path, line=1)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = validation_lines(exc, model, lines, path)
        first_line = lines.line(tuple(p for p in exc.errors()[0]["loc"] if isinstance(p, (str, int))))
        header = f"invalid {what} ({len(problems)} problem{'s' if len(problems) > 1 else ''}):"
        raise SuiteError(header + "\n  " + "\n  ".join(problems), path=None, line=first_line) from None
