"""pydantic models of what users write: suite files, prompt files, providers and assertions.

Every model forbids unknown keys, so a typo is an error with a "did you mean", not a silent no-op
(``validation.parse_model`` turns pydantic's errors into lines that name the file, line and field).
"""

from __future__ import annotations

import re
import typing
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Discriminator, Field, Tag, model_validator

from ..settings import MAX_RUNS

__all__ = [
    "DATA_FILE_TAG",
    "ENV_REFERENCE",
    "INLINE_CASE_TAG",
    "AssertionSpec",
    "CaseSpec",
    "DefaultsSpec",
    "JudgeCheckSpec",
    "LockEntrySpec",
    "LockFileSpec",
    "MessageSpec",
    "OptionsSpec",
    "PairwiseSpec",
    "PromptFileSpec",
    "ProviderSpec",
    "ReduceRule",
    "SuiteSpec",
    "parse_reduce",
]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_TAG = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


class _Model(BaseModel):
    # NaN and infinities are refused wherever a number is written: a weight of .inf would make
    # every score NaN, and NaN compares false with every threshold.
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False)


def _as_list(value: Any) -> Any:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _provider_list(value: Any) -> Any:
    items = _as_list(value)
    if isinstance(items, list):
        return [{"id": item} if isinstance(item, str) else item for item in items]
    return items


FILE_PREFIX = "file://"


def _file_ref(value: Any, example: str) -> Any:
    if isinstance(value, str) and not (value.startswith(FILE_PREFIX) and value[len(FILE_PREFIX) :].strip()):
        raise ValueError(f"a text value here names a file: write `{example}`; got {value[:60]!r}")
    return value


def _file_or_mapping(value: Any) -> Any:
    return _file_ref(value, "file://schema.json")


def _file_or_list(value: Any) -> Any:
    return _file_ref(value, "file://tools.json")


#: promptfoo writes the API in the id (``openai:chat:gpt-4o-mini``); ours names the model only.
_PROMPTFOO_API_SEGMENTS = frozenset(
    {"chat", "completion", "completions", "messages", "responses", "embedding", "embeddings", "assistant"}
)
_PROMPTFOO_ID_KINDS = frozenset({"openai", "anthropic", "azure", "azureopenai"})


def _check_provider_id(provider_id: str) -> None:
    kind, _, model = provider_id.partition(":")
    api, sep, rest = model.partition(":")
    if kind in _PROMPTFOO_ID_KINDS and sep and api in _PROMPTFOO_API_SEGMENTS and rest:
        raise ValueError(
            f"provider {provider_id!r} is written the way promptfoo writes it, with the API in the id;"
            f" here the id names the model only: did you mean `{kind}:{rest}`?"
        )


class ModelParams(_Model):
    """Model parameters shared by prompt files and providers (providers win)."""

    temperature: float | None = Field(None, ge=0, le=2)
    max_tokens: int | None = Field(None, gt=0)
    top_p: float | None = Field(None, ge=0, le=1)
    seed: int | None = None
    stop: str | list[str] | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    #: A mapping, or ``file://schema.json`` (read relative to the file that names it).
    response_format: Annotated[dict[str, Any] | str | None, BeforeValidator(_file_or_mapping)] = None
    #: Tools the model may call (each provider's own shape; OpenAI's is converted for Anthropic),
    #: or ``file://tools.json``.
    tools: Annotated[list[dict[str, Any]] | str | None, BeforeValidator(_file_or_list)] = None
    tool_choice: str | dict[str, Any] | None = None
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
    "tools",
    "tool_choice",
)


#: ``${NAME}`` in a header or query value: read from the environment at call time, never stored.
ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_PRICE_KEYS = ("input", "output", "cached_input", "cache_write")


def _price(value: Any) -> Any:
    """``0`` (a local model) or ``{input, output, cached_input, cache_write}`` in USD per million."""
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value == 0:
        return dict.fromkeys(_PRICE_KEYS, 0.0)
    if not isinstance(value, dict) or not {"input", "output"} <= set(value):
        raise ValueError(
            "price is 0 (a local model) or {input, output, cached_input, cache_write} in USD per "
            f"million tokens; got {value!r}"
        )
    unknown = sorted(set(value) - set(_PRICE_KEYS))
    if unknown:
        raise ValueError(f"price: unknown key(s) {unknown}; allowed: {', '.join(_PRICE_KEYS)}")
    for key, amount in value.items():
        if isinstance(amount, bool) or not isinstance(amount, (int, float)) or not amount >= 0:
            raise ValueError(f"price: {key} must be a number of USD per million tokens, 0 or more")
    return {k: float(v) for k, v in value.items()}


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
    #: ``python:`` only: the application may answer without any model call the plugin records
    #: (otherwise a case that recorded nothing is an error).
    allow_no_call: bool = False
    #: Providers tried in order when this one still fails after its retries.
    fallback: Annotated[list[ProviderSpec], BeforeValidator(_provider_list)] = Field(default_factory=list)
    #: Extra request headers; ``${NAME}`` in a value is read from the environment at call time.
    headers: dict[str, str] = Field(default_factory=dict)
    #: Extra query parameters (Azure's ``api-version``); ``${NAME}`` as in ``headers``.
    query: dict[str, str] = Field(default_factory=dict)
    #: Azure OpenAI's ``api-version`` (``v1`` for the v1 endpoint).
    api_version: str | None = None
    #: Vertex AI: the Google Cloud project and location.
    project: str | None = None
    location: str | None = None
    #: Bedrock: the AWS region.
    region: str | None = None
    #: The model's price, winning over every price table; ``0`` marks a local model (free).
    price: Annotated[dict[str, float] | None, BeforeValidator(_price)] = None

    @model_validator(mode="after")
    def _check_id(self) -> ProviderSpec:
        _check_provider_id(self.id)
        return self

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

    def referenced_envs(self) -> set[str]:
        """The environment variables its headers and query values name (``${NAME}``)."""
        values = [*self.headers.values(), *self.query.values()]
        return {name for value in values for name in ENV_REFERENCE.findall(value)}


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
    #: Applied to the output before this assertion only: an expression or ``module:function``.
    transform: str | None = Field(None, min_length=1)
    #: assert-set: the assertions of the set, scored together.
    assert_: list[AssertionSpec] | None = Field(None, alias="assert")

    @model_validator(mode="after")
    def _check_set(self) -> AssertionSpec:
        if self.base_type == "assert-set":
            if not self.assert_:
                raise ValueError(
                    "an assert-set needs its assertions under `assert:`, e.g."
                    " {type: assert-set, threshold: 0.5, assert: [{type: contains, value: refund}]}"
                )
        elif self.assert_ is not None:
            raise ValueError(
                f"`assert` inside an assertion belongs to `type: assert-set`, not {self.type!r};"
                " to group checks write {type: assert-set, assert: [...]}"
            )
        return self

    @property
    def negated(self) -> bool:
        return self.type.startswith("not-")

    @property
    def base_type(self) -> str:
        return self.type[4:] if self.negated else self.type


#: pytest's own marks: a tag becomes a marker, so `tags: [skip]` would skip the case silently.
PYTEST_MARKS = frozenset({"skip", "skipif", "xfail", "parametrize", "usefixtures", "filterwarnings"})


def _check_tags(tags: list[str]) -> list[str]:
    for tag in tags:
        if not _TAG.match(tag):
            raise ValueError(
                f"tag {tag!r} cannot be a pytest marker: use letters, digits, '_' and '-', "
                "starting with a letter"
            )
        if tag in PYTEST_MARKS:
            raise ValueError(
                f"tag {tag!r} is one of pytest's own marks ({', '.join(sorted(PYTEST_MARKS))}): as a tag "
                "it would change how pytest runs the case without saying so; to skip or xfail a case "
                "write `skip: true` or `xfail: true` on it, else pick another tag name"
            )
    return tags


Tags = Annotated[list[str], BeforeValidator(_as_list)]


@dataclass(frozen=True, slots=True)
class ReduceRule:
    """How the runs of a repeated case reduce to one outcome (``reduce:``)."""

    kind: str  # "pass^k" | "pass@k" | "pass_rate" | "mean"
    rate: float = 1.0

    def describe(self, runs: int) -> str:
        if self.kind == "pass_rate":
            return f"pass_rate {self.rate:g}: at least {self.rate:.0%} of {runs} runs must pass"
        if self.kind == "pass@k":
            return f"pass@{runs}: at least one of {runs} runs must pass"
        if self.kind == "mean":
            return f"mean: the mean score of {runs} runs must reach the threshold"
        return f"pass^{runs}: all {runs} runs must pass"


REDUCE_RULES = ("pass^k", "pass@k", "mean", "{pass_rate: 0.8}")


_NAMED_RULES = {kind: ReduceRule(kind) for kind in ("pass^k", "pass@k", "mean")}


def parse_reduce(value: Any) -> ReduceRule:
    """``"pass^k"``, ``"pass@k"``, ``"mean"`` or ``{pass_rate: 0.8}``; ValueError otherwise."""
    if value is None:
        return _NAMED_RULES["pass^k"]
    if isinstance(value, str) and value.strip() in _NAMED_RULES:
        return _NAMED_RULES[value.strip()]  # frozen: one per rule, not one per case
    if isinstance(value, dict) and set(value) == {"pass_rate"}:
        rate = value["pass_rate"]
        if isinstance(rate, (int, float)) and not isinstance(rate, bool) and 0 < rate <= 1:
            return ReduceRule("pass_rate", float(rate))
        raise ValueError(f"pass_rate must be a number in (0, 1], e.g. {{pass_rate: 0.8}}; got {rate!r}")
    raise ValueError(f"reduce must be one of {', '.join(REDUCE_RULES)}; got {value!r}")


def _check_reduce(value: Any) -> Any:
    parse_reduce(value)  # raises ValueError with the allowed forms
    return value


Reduce = Annotated[str | dict[str, Any] | None, BeforeValidator(_check_reduce)]


class OptionsSpec(ModelParams):
    """Model parameters of one case (or of every case, in ``defaults``), merged over the
    prompt file's and the provider's, and sent with the case's request."""


class MessageSpec(_Model):
    """One chat message: text, or a list of content parts (``text``, ``image_url``, ...)."""

    role: typing.Literal["system", "user", "assistant"]
    content: str | list[dict[str, Any]]

    @model_validator(mode="after")
    def _check_parts(self) -> MessageSpec:
        if isinstance(self.content, list):
            if not self.content:
                raise ValueError("`content` is an empty list; give text or at least one content part")
            for index, part in enumerate(self.content):
                kind = part.get("type")
                if not isinstance(kind, str) or not kind:
                    raise ValueError(
                        f"content part {index} needs a `type`, e.g. {{type: text, text: 'Hello'}}"
                        " or {type: image_url, image_url: {url: 'https://...'}}"
                    )
                if kind == "text" and not isinstance(part.get("text"), str):
                    raise ValueError(f"content part {index} is `type: text` without a text `text`")
        return self


class DefaultsSpec(_Model):
    """Merged into every case of the suite."""

    vars: dict[str, Any] = Field(default_factory=dict)
    assert_: list[AssertionSpec] = Field(default_factory=list, alias="assert")
    threshold: float | None = Field(None, ge=0, le=1)
    tags: Tags = Field(default_factory=list)
    #: Run each case this many times (non-deterministic output), reduced with `reduce`.
    repeat: int | None = Field(None, ge=1, le=MAX_RUNS)
    reduce: Reduce = None
    options: OptionsSpec | None = None
    #: Applied to every case's output before its assertions (a case's own `transform` wins).
    transform: str | None = Field(None, min_length=1)
    #: ``module:function`` or ``file.py:function`` that turns assertion scores into the case's.
    scoring: str | None = Field(None, min_length=1)


class CaseSpec(_Model):
    """One test case; ``prompt`` and ``category`` come from the dataset (``test_cases:``) shape."""

    #: Optional: without it the name comes from `description`, else from the case's content.
    name: str | None = Field(None, min_length=1)
    description: str | None = None
    vars: dict[str, Any] = Field(default_factory=dict)
    expected: Any = None
    assert_: list[AssertionSpec] = Field(default_factory=list, alias="assert")
    tags: Tags = Field(default_factory=list)
    category: str | None = None
    prompt: str | None = None
    #: Prior turns of a conversation, sent after the prompt's system message.
    messages: list[MessageSpec] | None = None
    options: OptionsSpec | None = None
    transform: str | None = Field(None, min_length=1)
    scoring: str | None = Field(None, min_length=1)
    threshold: float | None = Field(None, ge=0, le=1)
    repeat: int | None = Field(None, ge=1, le=MAX_RUNS)
    reduce: Reduce = None
    skip: bool | str = False
    xfail: bool | str = False
    metadata: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> CaseSpec:
        if self.name is not None:
            _check_name(self.name, "case")
        _check_tags([*self.tags, *([self.category] if self.category else [])])
        return self


def _check_name(name: str, what: str) -> None:
    if any(bad in name for bad in ("::", "[", "]", "/")):
        raise ValueError(f"{what} name {name!r} may not contain '::', '/', '[' or ']'")


class JudgeCheckSpec(_Model):
    """A labelled example for checking a judge against people: an output and the verdict a person gave.

    It runs ``assert`` (a judge assertion, its judge the suite's) on ``output``, as if a case had
    answered ``input`` with it (``expected`` is the case's reference answer, for the judges that
    compare with one; ``context`` what was retrieved, for the context-* judges), and compares the
    assertion's outcome with ``verdict``.
    """

    name: str = Field(min_length=1)
    assert_: AssertionSpec = Field(alias="assert")
    output: str
    input: str | None = None
    expected: Any = None
    #: The retrieved context the output was given, for the context-* judges.
    context: Any = None
    #: The verdict a person gave: would this assertion pass this output?
    verdict: typing.Literal["pass", "fail"]
    #: Why the person decided so (shown beside a disagreement).
    note: str | None = None

    @model_validator(mode="after")
    def _check(self) -> JudgeCheckSpec:
        _check_name(self.name, "judge check")
        return self


#: Union tags of a `tests:` entry; ``validation`` leaves them out of the paths it shows.
INLINE_CASE_TAG = "(inline case)"
DATA_FILE_TAG = "(data file)"


def _entry_kind(value: Any) -> str | None:
    if isinstance(value, str):
        return DATA_FILE_TAG
    if isinstance(value, (dict, CaseSpec)):
        return INLINE_CASE_TAG
    return None


def _data_file(value: str) -> str:
    if not value.startswith(FILE_PREFIX) or not value[len(FILE_PREFIX) :].strip():
        raise ValueError(
            "a data file is written `file://cases.csv` (or a glob, `file://data/*.jsonl`);"
            f" got {value[:80]!r}"
        )
    return value


CaseEntry = Annotated[
    Annotated[CaseSpec, Tag(INLINE_CASE_TAG)]
    | Annotated[Annotated[str, BeforeValidator(_data_file)], Tag(DATA_FILE_TAG)],
    Discriminator(
        _entry_kind,
        custom_error_type="case_entry",
        custom_error_message=(
            "each entry is a case (a mapping) or a data file (`file://cases.csv`, `file://data/*.yaml`)"
        ),
    ),
]
CaseEntries = Annotated[list[CaseEntry], BeforeValidator(_as_list)]


class PairwiseSpec(_Model):
    """``pairwise:``: a judge picks the better of two prompt versions' answers to each case."""

    #: What "better" means, in plain words: the judge's question.
    criteria: str = Field(min_length=1)
    #: The judge; default: the suite's `judge:`, then the ini `llmops_judge`.
    provider: Annotated[
        ProviderSpec | None, BeforeValidator(lambda v: {"id": v} if isinstance(v, str) else v)
    ] = None


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
    #: Each prompt version after the first judged against the one before it, case by case.
    pairwise: PairwiseSpec | None = None
    #: Cases: a list of cases and data files, or one data file (`file://cases.csv`, a glob).
    tests: CaseEntries = Field(default_factory=list)
    test_cases: CaseEntries = Field(default_factory=list)
    #: Labelled examples that check the suite's judge against people.
    judge_checks: list[JudgeCheckSpec] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> SuiteSpec:
        if not self.tests and not self.test_cases and not self.judge_checks:
            raise ValueError("a suite needs cases: add a `tests:` (or `test_cases:`) list")
        _check_tags(self.defaults.tags)
        labels = [p.display for p in self.provider]
        dupes = sorted({x for x in labels if labels.count(x) > 1})
        if dupes:
            raise ValueError(f"provider {dupes[0]!r} is listed twice; give one a distinct `label`")
        if self.pairwise is not None and len(self.prompt) < 2:
            raise ValueError(
                "`pairwise:` compares prompt versions: list at least two in `prompt:` "
                "(e.g. `prompt: [support@2.0.0, support@2.1.0]`)"
            )
        return self


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


class LockMessageSpec(_Model):
    role: str
    content: str


class LockEntrySpec(_Model):
    """One prompt version in the lock file (written by ``--llmops-update-lock``)."""

    file: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    model: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    variables: list[str] = Field(default_factory=list)
    messages: list[LockMessageSpec] = Field(default_factory=list)
    description: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class LockFileSpec(_Model):
    """The prompt lock file: ``prompts: {name: {version: entry}}``."""

    lock_version: typing.Literal[1] = 1
    prompts: dict[str, dict[str, LockEntrySpec]] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _versions_are_strings(cls, data: Any) -> Any:
        # YAML reads a version `1.0` as a number; names and versions are text.
        if isinstance(data, dict) and isinstance(data.get("prompts"), dict):
            prompts = {
                str(name): (
                    {str(v): e for v, e in versions.items()} if isinstance(versions, dict) else versions
                )
                for name, versions in data["prompts"].items()
            }
            data = {**data, "prompts": prompts}
        return data
