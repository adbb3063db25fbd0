"""Every setting of pytest-llmops, in one table: its ini key, its option, its form and its help.

The plugin registers each row with pytest (an ``llmops_*`` ini key and a ``--llmops-*`` option;
the command line wins over the ini file), parses every value with ``parse`` and hands the result
on as one frozen ``Settings``. The configuration page of the docs is generated from the same rows
(``reference_markdown``), and a test fails when the two differ.

A relative path given on the command line is taken from the folder pytest was started in; one in
an ini file, from that file's folder. A value that does not parse is a ``SettingError`` naming
where it came from and the form it must take. This module imports nothing heavy: it is read at
every pytest start.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, TypeVar, dataclass_transform

from .errors import LlmopsError

__all__ = [
    "MAX_RUNS",
    "SETTINGS",
    "Setting",
    "SettingError",
    "Settings",
    "load_settings",
    "parse",
    "reference_markdown",
]

Kind = Literal[
    "choice",
    "runs",
    "count",
    "seconds",
    "positive-seconds",
    "path",
    "folder",
    "paths",
    "globs",
    "provider",
    "usd",
    "rate",
    "alpha",
    "score",
    "ms",
    "percent",
    "bool",
    "flag",
    "ref",
    "hosts",
    "names",
]

#: The most runs of one case (``llmops_repeat``, ``--llmops-repeat``, a suite's ``repeat:``) and the
#: most calls in flight: more would run for days or exhaust memory, never measure anything better.
MAX_RUNS = 1000

#: What each kind of value looks like, for help texts, usage errors and the docs.
FORMS: dict[str, str] = {
    "choice": "one of the listed values",
    "runs": "a whole number, at least 1",
    "count": "a whole number, e.g. 0",
    "seconds": "seconds, e.g. 0.5 (0 or more)",
    "positive-seconds": "seconds, e.g. 60 (more than 0)",
    "path": "a file path",
    "folder": "a folder (created if missing)",
    "paths": "folders, one per line",
    "globs": "file name patterns, one per line",
    "provider": "a provider id with a model, e.g. openai:gpt-4o-mini",
    "usd": "an amount in USD, e.g. 5 or 0.50",
    "rate": "a fraction from 0 to 1 or a percentage, e.g. 0.95 or 95%",
    "alpha": "a significance level above 0 and at most 0.5, e.g. 0.05",
    "score": "a score from 0 to 1, e.g. 0.8",
    "ms": "milliseconds, e.g. 2000",
    "percent": "a percentage, e.g. 20 or 20%",
    "bool": "true or false",
    "flag": "a flag (no value)",
    "ref": "a git ref: a branch, tag or commit",
    "hosts": "hosts, as host or host:port, one per line or comma-separated",
    "names": "names (headers, query parameters or JSON fields), one per line or comma-separated",
}

_METAVARS = {
    "usd": "USD",
    "rate": "RATE",
    "alpha": "ALPHA",
    "score": "SCORE",
    "ms": "MS",
    "percent": "PCT",
    "path": "PATH",
    "folder": "DIR",
    "provider": "ID",
    "ref": "REF",
    "seconds": "S",
    "positive-seconds": "S",
    "bool": "{true,false}",
    "hosts": "HOSTS",
}


class SettingError(LlmopsError):
    """A setting's value does not parse; the message names its source and the form expected."""


@dataclass(frozen=True, slots=True)
class Setting:
    """One row of the table: the ini key ``name`` and the option ``--name-with-dashes``."""

    name: str
    kind: Kind
    help: str
    #: The value when nothing sets it (already parsed).
    default: Any = None
    section: str = "run"
    choices: tuple[str, ...] = ()
    ini: bool = True
    option: bool = True

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def key(self) -> str:
        """The attribute of ``Settings``: the name without ``llmops_``."""
        return self.name.removeprefix("llmops_")

    @property
    def metavar(self) -> str:
        if self.kind == "choice":
            return "{" + ",".join(self.choices) + "}"
        return _METAVARS.get(self.kind, "N")

    @property
    def form(self) -> str:
        if self.kind == "choice":
            return "one of " + ", ".join(self.choices)
        return FORMS[self.kind]


RECORD_MODES = ("none", "once", "new_episodes", "all")
REGRESSION_MODES = ("off", "significant")
DEFAULT_SUITE_GLOBS = ("test_*.llmops.yaml", "test_*.llmops.yml")

SETTINGS: tuple[Setting, ...] = (
    # -- recording and running ----------------------------------------------------------------
    Setting(
        "llmops_record_mode",
        "choice",
        "none (the default: replay only, nothing leaves the machine), once (record cassettes that "
        "are missing), new_episodes (replay, and record what is new), all (re-record everything).",
        default="none",
        section="recording",
        choices=RECORD_MODES,
    ),
    Setting(
        "llmops_cassette_dir",
        "folder",
        "One folder for every cassette (default: cassettes/ beside each suite or test file).",
        section="recording",
    ),
    Setting(
        "llmops_cassette_cache",
        "bool",
        "Keep each cassette as parsed in pytest's cache folder (cache_dir, under "
        "d/llmops-cassettes), keyed by the file's content, so a replay reads it without parsing "
        "its YAML again; an edited or re-recorded cassette is parsed afresh. false (or -p "
        "no:cacheprovider) parses every cassette in every run.",
        default=True,
        section="recording",
        option=False,
    ),
    Setting(
        "llmops_allowed_hosts",
        "hosts",
        "Hosts that cases and Python tests may still reach in record mode none (a local database, "
        "say); every other connection, loopback included, is refused. The scripted test server "
        "of the llmops_server fixture allows its own address.",
        default=(),
        section="recording",
    ),
    Setting(
        "llmops_redact_headers",
        "names",
        "Headers stored as REDACTED in cassettes (request headers not kept anyway: every header "
        "but content-type, accept and the API version headers is dropped), e.g. x-request-id.",
        default=(),
        section="recording",
        option=False,
    ),
    Setting(
        "llmops_redact_query",
        "names",
        "Query parameters stored and matched as REDACTED, besides those whose name says key "
        "(key, api-key, subscription-key, auth, token, sig...).",
        default=(),
        section="recording",
        option=False,
    ),
    Setting(
        "llmops_redact_body",
        "names",
        "JSON body fields (at any depth) stored and matched as REDACTED, besides those whose name "
        "says key (api_key, apiKey, secret, password, token...).",
        default=(),
        section="recording",
        option=False,
    ),
    Setting(
        "llmops_repeat",
        "runs",
        "Runs per case. In an ini file: for cases whose suite does not say. On the command line: "
        "every case, whatever the suites say (measures flakiness).",
        default=1,
    ),
    Setting(
        "llmops_concurrency",
        "runs",
        "Model calls in flight at once while recording: cases ahead of pytest start early.",
        default=8,
    ),
    Setting("llmops_timeout", "positive-seconds", "Seconds one model call may take.", default=60.0),
    Setting(
        "llmops_max_retries",
        "count",
        "Retries of a call that failed with 429, 5xx, a timeout or a refused connection.",
        default=2,
    ),
    Setting("llmops_retry_backoff", "seconds", "Base delay of the exponential backoff.", default=0.5),
    Setting("llmops_retry_max_backoff", "seconds", "Longest wait between two tries.", default=30.0),
    Setting(
        "llmops_case_timeout",
        "positive-seconds",
        "Seconds one case may spend on its calls, retries and fallbacks.",
        default=300.0,
    ),
    Setting(
        "llmops_estimate",
        "flag",
        "Dry run: print, per variant, the input tokens of every request about to be sent and an "
        "upper bound of its cost at max_tokens, then stop without a call.",
        default=False,
        ini=False,
    ),
    Setting(
        "llmops_suite_glob",
        "globs",
        "File name patterns of suite files.",
        default=DEFAULT_SUITE_GLOBS,
        section="suites",
        option=False,
    ),
    Setting(
        "llmops_prompt_dirs",
        "paths",
        "Folders searched for prompt files besides each suite's prompts/ folders.",
        default=(),
        section="suites",
        option=False,
    ),
    Setting(
        "llmops_judge",
        "provider",
        "Default judge of model-graded assertions (a suite's `judge:` wins).",
        section="suites",
    ),
    Setting(
        "llmops_embedding",
        "provider",
        "Default embedding model of `similar` (a suite's `embedding:` wins).",
        section="suites",
    ),
    Setting(
        "llmops_prices",
        "path",
        "YAML file extending or overriding the model price table.",
        section="suites",
    ),
    # -- reports ------------------------------------------------------------------------------
    Setting("llmops_report", "path", "Write the JSON report (schema_version 1) to PATH.", section="reports"),
    Setting(
        "llmops_markdown",
        "path",
        "Write the summary as Markdown to PATH; it is also appended to $GITHUB_STEP_SUMMARY when set "
        "(under GitHub Actions it is appended there even without this setting; see llmops_github).",
        section="reports",
    ),
    Setting(
        "llmops_html",
        "path",
        "Write a self-contained HTML report to PATH (cases × variants, diffs, charts; no network).",
        section="reports",
    ),
    Setting(
        "llmops_github",
        "bool",
        "Under GitHub Actions (GITHUB_ACTIONS=true): an ::error annotation on the line of each case "
        "that did not pass and per breached gate, a ::warning per gate that nearly failed (passed "
        "with less than a tenth of its room left), and the Markdown summary appended to "
        "$GITHUB_STEP_SUMMARY. false: none of them.",
        default=True,
        section="reports",
    ),
    # -- budget and gates ---------------------------------------------------------------------
    Setting(
        "llmops_budget",
        "usd",
        "USD that live model calls may spend; once spent, the cases left fail with "
        "'budget exhausted' and replays keep running.",
        section="gates",
    ),
    Setting(
        "llmops_max_cost",
        "usd",
        "Gate: the run's cost (application + judge), USD, at most this.",
        section="gates",
    ),
    Setting(
        "llmops_min_pass_rate",
        "rate",
        "Gate: share of cases that passed, at least this (0.95 or 95%).",
        section="gates",
    ),
    Setting(
        "llmops_min_score", "score", "Gate: mean score of the cases, at least this (0 to 1).", section="gates"
    ),
    Setting(
        "llmops_max_p95_latency_ms", "ms", "Gate: p95 latency, milliseconds, at most this.", section="gates"
    ),
    Setting(
        "llmops_max_error_rate",
        "rate",
        "Gate: share of cases that errored, at most this (0.05 or 5%).",
        section="gates",
    ),
    Setting(
        "llmops_min_judge_agreement",
        "rate",
        "Gate: share of judge checks (`judge_checks:` in a suite) where each judge agrees with the "
        "person who labelled them, at least this (0.9 or 90%).",
        section="gates",
    ),
    Setting("llmops_baseline", "path", "Compare with a JSON report from the base branch.", section="gates"),
    Setting(
        "llmops_max_new_failures",
        "count",
        "Baseline gate: cases that passed in the baseline and fail now, at most this many (0: none).",
        section="gates",
    ),
    Setting(
        "llmops_max_score_drop",
        "score",
        "Baseline gate: how far one case's score may fall below its baseline score (e.g. 0.1).",
        section="gates",
    ),
    Setting(
        "llmops_max_cost_increase",
        "percent",
        "Baseline gate: cost of the cases in both runs may rise by at most this percentage.",
        section="gates",
    ),
    Setting(
        "llmops_max_p95_increase",
        "percent",
        "Baseline gate: p95 latency of the cases in both runs may rise by at most this percentage.",
        section="gates",
    ),
    Setting(
        "llmops_min_baseline_match",
        "rate",
        "Baseline gate, on whenever a baseline is given: the share of this run's cases that the "
        "baseline also has, at least this; a baseline that matches no case always fails.",
        default=0.5,
        section="gates",
    ),
    Setting(
        "llmops_regression",
        "choice",
        "significant: fail when a paired test shows a new prompt version, or this run against the "
        "baseline, to be worse (exact McNemar on pass/fail, exact sign test on scores) at the "
        "level llmops_regression_alpha; off: no such gate.",
        default="off",
        section="gates",
        choices=REGRESSION_MODES,
    ),
    Setting(
        "llmops_min_win_rate",
        "rate",
        "Gate on `pairwise:` suites: the newer prompt version's win rate against the one before it "
        "may not be significantly below this (its 95% interval entirely under it), e.g. 0.5.",
        section="gates",
    ),
    Setting(
        "llmops_regression_alpha",
        "alpha",
        "The false-alarm rate the regression gate allows in all, shared among its tests.",
        default=0.05,
        section="gates",
    ),
    # -- prompt pull requests -----------------------------------------------------------------
    Setting(
        "llmops_lock_file",
        "path",
        "The prompt lock file.",
        default=Path("prompts.lock"),
        section="review",
        option=False,
    ),
    Setting(
        "llmops_python_anywhere",
        "bool",
        "Let `python` assertions load .py files outside the rootdir and sys.path (false: a suite "
        "cannot run code from elsewhere on the machine, e.g. `../evil.py:check`).",
        default=False,
        option=False,
    ),
    Setting(
        "llmops_lock_required",
        "bool",
        "Fail when the prompt lock file is missing (false: no lock, no guard).",
        default=False,
        section="review",
        option=False,
    ),
    Setting(
        "llmops_update_lock",
        "flag",
        "Rewrite the prompt lock file from the prompts as they are: accept edited versions, add "
        "new ones, drop deleted ones. Creates the lock if it does not exist.",
        default=False,
        section="review",
        ini=False,
    ),
    Setting(
        "llmops_changed_since",
        "ref",
        "Run only the LLM cases affected by changes since the git REF, counted from `git merge-base "
        "HEAD REF` as a pull request's diff is (prompt files, suite entries, referenced schema/python "
        "files, cassettes; uncommitted changes included). Other cases are deselected.",
        section="review",
        ini=False,
    ),
    Setting(
        "llmops_diff",
        "ref",
        "Show each prompt changed since the git REF (from `git merge-base HEAD REF`) as a diff, and "
        "each affected case's response there beside the new one, with the score change.",
        section="review",
        ini=False,
    ),
)

_BY_NAME = {s.name: s for s in SETTINGS}


def _number(setting: Setting, raw: str, bad: Callable[[str], SettingError]) -> float:
    text = raw
    percent = text.endswith("%")
    if percent:
        text = text[:-1].strip()
    if setting.kind == "usd":
        text = text.removeprefix("$")
    elif setting.kind == "ms" and text.endswith("ms"):
        text = text[:-2].strip()
    if percent and setting.kind not in ("rate", "percent", "alpha"):
        raise bad("")
    try:
        value = float(text)
    except ValueError:
        raise bad("") from None
    if not math.isfinite(value) or value < 0:
        raise bad(" (not negative)")
    if setting.kind == "rate":
        if percent:
            value /= 100.0
        if value > 1:
            raise bad(f" (got {raw}: write {raw}% for a percentage)")
    elif setting.kind == "alpha":
        if percent:
            value /= 100.0
        if not 0 < value <= 0.5:
            raise bad(f" (got {raw})")
    elif setting.kind == "score" and value > 1:
        raise bad(" (at most 1)")
    elif setting.kind in ("count", "runs"):
        if value != int(value) or (setting.kind == "runs" and not 1 <= value <= MAX_RUNS):
            raise bad(
                f" and at most {MAX_RUNS:,} (got {raw})"
                if setting.kind == "runs" and value > MAX_RUNS
                else ""
            )
        return int(value)
    elif setting.kind == "positive-seconds" and value == 0:
        raise bad(" (more than 0)")
    return value


def parse(setting: Setting, raw: Any, source: str, base: Path) -> Any:
    """One value from its text (or, for list kinds, its lines); relative paths are under ``base``."""

    def bad(why: str) -> SettingError:
        return SettingError(f"{source}: expected {setting.form}{why}")

    if setting.kind in ("globs", "paths"):
        lines = [str(v).strip() for v in (raw if isinstance(raw, (list, tuple)) else str(raw).splitlines())]
        lines = [line for line in lines if line]
        if setting.kind == "globs":
            return tuple(lines)
        return tuple(_path(line, base) for line in lines)
    if setting.kind in ("hosts", "names"):
        items = raw if isinstance(raw, (list, tuple)) else str(raw).splitlines()
        entries = [e.strip() for item in items for e in str(item).split(",") if e.strip()]
        pattern = _pattern(setting.kind)
        for entry in entries:
            if not pattern.match(entry) or (setting.kind == "hosts" and not _port_ok(entry)):
                raise bad(f" (got {entry!r})")
        return tuple(entries)
    if isinstance(raw, bool):
        if setting.kind in ("flag", "bool"):
            return raw
        raw = str(raw)
    text = str(raw).strip()
    if setting.kind == "choice":
        if text not in setting.choices:
            raise bad(f" (got {text!r})")
        return text
    if setting.kind == "bool":
        lowered = text.lower()
        if lowered in ("true", "yes", "on", "1"):
            return True
        if lowered in ("false", "no", "off", "0", ""):
            return False
        raise bad(f" (got {text!r})")
    if not text:
        raise bad("")
    if setting.kind == "provider":
        if ":" not in text:
            raise bad(f" (got {text!r})")
        return text
    if setting.kind == "ref":
        return text
    if setting.kind in ("path", "folder"):
        path = _path(text, base)
        if setting.kind == "folder" and path.exists() and not path.is_dir():
            raise SettingError(f"{source}: {path} is a file; name a folder (it is created if missing)")
        return path
    return _number(setting, text, bad)


@functools.cache  # compiled when a list is first read, not when pytest loads the plugin
def _pattern(kind: str) -> re.Pattern[str]:
    if kind == "hosts":
        #: ``host``, ``host:port``, ``[::1]:port`` or a bare IPv6 address; never a URL.
        return re.compile(
            r"^(?:[A-Za-z0-9_.-]+(?::\d{1,5})?|\[[0-9A-Fa-f:.]+\](?::\d{1,5})?|[0-9A-Fa-f:]*:[0-9A-Fa-f:.]+)$"
        )
    return re.compile(r"^[A-Za-z0-9_.-]+$")


def _port_ok(entry: str) -> bool:
    port = entry.rpartition("]")[2] if entry.startswith("[") else entry
    if entry.startswith("[") or entry.count(":") == 1:
        _, _, digits = port.rpartition(":")
        return not digits or (digits.isdigit() and 0 < int(digits) <= 65535)
    return True


def _path(text: str, base: Path) -> Path:
    path = Path(text).expanduser()
    return path if path.is_absolute() else base / path


def _default(name: str) -> Any:
    return _BY_NAME[name].default


_T = TypeVar("_T")


@dataclass_transform(frozen_default=True, kw_only_default=True, field_specifiers=(field,))
def _read_fields(cls: type[_T]) -> type[_T]:
    """``dataclass(frozen=True, slots=True, kw_only=True)`` with ``__init__``, ``__eq__``,
    ``__hash__`` and ``__repr__`` that loop over the fields rather than being generated for them.

    dataclass writes each of those as source naming every field and compiles it: for the 48
    fields of ``Settings``, about 7 ms of every pytest start (14M of the plugin's 103M
    instructions measured under valgrind, a project without suites). These do what dataclass's
    do; mypy checks calls as it checks a dataclass's (``dataclass_transform``).
    """
    made: Any = dataclass(frozen=True, slots=True, init=False, repr=False, eq=False)(cls)
    every = fields(made)
    defaults = tuple((f.name, f.default, f.default_factory) for f in every)
    compared = tuple(f.name for f in every if f.compare)
    shown = tuple(f.name for f in every if f.repr)

    def __init__(self: Any, **values: Any) -> None:
        for name, default, factory in defaults:
            if name not in values:
                values[name] = default if default is not MISSING else factory()  # type: ignore[operator]
            object.__setattr__(self, name, values.pop(name))
        if values:
            raise TypeError(
                f"{made.__qualname__}() got unexpected keyword arguments: {', '.join(sorted(values))}"
            )

    def key(self: Any) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in compared)

    def __eq__(self: Any, other: object) -> bool:
        return key(self) == key(other) if other.__class__ is self.__class__ else NotImplemented

    def __hash__(self: Any) -> int:
        return hash(key(self))

    def __repr__(self: Any) -> str:
        values = ", ".join(f"{name}={getattr(self, name)!r}" for name in shown)
        return f"{made.__qualname__}({values})"

    for method in (__init__, __eq__, __hash__, __repr__):
        method.__qualname__ = f"{made.__qualname__}.{method.__name__}"
        setattr(made, method.__name__, method)
    return made  # type: ignore[no-any-return]


@_read_fields
class Settings:
    """The parsed value of every setting; a field per row, named by its key (no ``llmops_``).

    Defaults come from the table; a test checks that the fields and the rows agree.
    """

    record_mode: str = _default("llmops_record_mode")
    cassette_dir: Path | None = None
    cassette_cache: bool = _default("llmops_cassette_cache")
    allowed_hosts: tuple[str, ...] = _default("llmops_allowed_hosts")
    redact_headers: tuple[str, ...] = _default("llmops_redact_headers")
    redact_query: tuple[str, ...] = _default("llmops_redact_query")
    redact_body: tuple[str, ...] = _default("llmops_redact_body")
    repeat: int = _default("llmops_repeat")
    concurrency: int = _default("llmops_concurrency")
    timeout: float = _default("llmops_timeout")
    max_retries: int = _default("llmops_max_retries")
    retry_backoff: float = _default("llmops_retry_backoff")
    retry_max_backoff: float = _default("llmops_retry_max_backoff")
    case_timeout: float = _default("llmops_case_timeout")
    estimate: bool = _default("llmops_estimate")
    suite_glob: tuple[str, ...] = _default("llmops_suite_glob")
    prompt_dirs: tuple[Path, ...] = _default("llmops_prompt_dirs")
    judge: str | None = None
    embedding: str | None = None
    prices: Path | None = None
    report: Path | None = None
    markdown: Path | None = None
    html: Path | None = None
    github: bool = _default("llmops_github")
    budget: float | None = None
    max_cost: float | None = None
    min_pass_rate: float | None = None
    min_score: float | None = None
    max_p95_latency_ms: float | None = None
    max_error_rate: float | None = None
    min_judge_agreement: float | None = None
    baseline: Path | None = None
    max_new_failures: int | None = None
    max_score_drop: float | None = None
    max_cost_increase: float | None = None
    max_p95_increase: float | None = None
    min_baseline_match: float = _default("llmops_min_baseline_match")
    regression: str = _default("llmops_regression")
    min_win_rate: float | None = None
    regression_alpha: float = _default("llmops_regression_alpha")
    lock_file: Path = _default("llmops_lock_file")
    python_anywhere: bool = _default("llmops_python_anywhere")
    lock_required: bool = _default("llmops_lock_required")
    update_lock: bool = _default("llmops_update_lock")
    changed_since: str | None = None
    diff: str | None = None
    #: Where each value came from: "option" or "ini" (absent: the default).
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)

    def source(self, key: str) -> str:
        """ "option", "ini" or "default"."""
        return self.sources.get(key, "default")


def load_settings(
    option: Callable[[Setting], Any],
    ini: Callable[[Setting], Any],
    *,
    option_base: Path,
    ini_base: Path,
) -> Settings:
    """Read every setting: the option first, then the ini key, then the default.

    ``option(setting)`` returns the command-line value or None; ``ini(setting)`` the ini text
    (or lines) or None/"" when unset. Raises ``SettingError`` for the first value that is bad.
    """
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for setting in SETTINGS:
        raw = option(setting) if setting.option else None
        if raw is not None and raw is not False:
            shown = setting.flag if setting.kind == "flag" else f"{setting.flag}={raw}"
            values[setting.key] = parse(setting, raw, shown, option_base)
            sources[setting.key] = "option"
            continue
        raw = ini(setting) if setting.ini else None
        if raw is None or raw == "" or raw == [] or raw == ():
            default = setting.default
            if isinstance(default, Path) and not default.is_absolute():
                default = ini_base / default  # a default file lives beside the ini file
            values[setting.key] = default
            continue
        shown = f"ini {setting.name} = {raw if isinstance(raw, str) else ', '.join(map(str, raw))}"
        values[setting.key] = parse(setting, raw, shown, ini_base)
        sources[setting.key] = "ini"
    return Settings(**values, sources=sources)


_SECTIONS = {
    "recording": "Recording and replay",
    "run": "Running cases",
    "suites": "Suites, prompts, judges and prices",
    "reports": "Reports",
    "gates": "Budget and gates",
    "review": "Prompt pull requests",
}


def _default_text(setting: Setting) -> str:
    value = setting.default
    if value is None or value == () or (value is False and setting.kind == "flag"):
        return "—"
    if isinstance(value, tuple):
        return ", ".join(f"`{v}`" for v in value)
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"`{value}`"


def reference_markdown(settings: Sequence[Setting] = SETTINGS) -> str:
    """The configuration reference of the docs: one table per section, generated from the rows."""
    out: list[str] = []
    for section, title in _SECTIONS.items():
        rows = [s for s in settings if s.section == section]
        if not rows:
            continue
        out += [
            f"### {title}",
            "",
            "| ini key | option | value | default | meaning |",
            "|---|---|---|---|---|",
        ]
        for s in rows:
            ini = f"`{s.name}`" if s.ini else "—"
            flag = (f"`{s.flag}`" if s.kind == "flag" else f"`{s.flag}={s.metavar}`") if s.option else "—"
            meaning = s.help.replace("|", "\\|")
            out.append(f"| {ini} | {flag} | {s.form} | {_default_text(s)} | {meaning} |")
        out.append("")
    return "\n".join(out)
