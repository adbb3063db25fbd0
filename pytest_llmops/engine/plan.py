"""From a suite file to case plans: the prompt × provider × case matrix, validated.

Everything a case needs at run time is resolved here, at collection: prompt references, the
provider, merged variables and prepared assertions. A mistake is a ``SuiteError`` naming the file
and line. This module does not import pytest.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from ..assertions.case_scoring import CaseScorer, compile_scorer
from ..assertions.registry import PreparedAssertion
from ..assertions.transforms import Transform, TransformError, compile_transform
from ..errors import PromptError, SuiteError
from ..prompts.registry import Prompt, PromptRegistry
from ..prompts.render import render_template
from ..results import Message
from ..spec.files import file_ref, load_value_file, resolve_path
from ..spec.schema import (
    AssertionSpec,
    MessageSpec,
    OptionsSpec,
    PairwiseSpec,
    ProviderSpec,
    ReduceRule,
    SuiteSpec,
    parse_reduce,
)
from ..spec.validation import parse_model, suggest
from ..spec.yamlio import load_yaml_file
from .cases import SourcedCase, suite_cases
from .session import Session

__all__ = ["CasePlan", "JudgeCheckPlan", "SuitePlan", "item_name", "judge_check_item_name", "load_suite"]


@dataclass(frozen=True, slots=True)
class CasePlan:
    """One cell of the matrix, ready to run."""

    name: str  # item name: ``case[prompt@version-provider]``
    case: str
    suite_path: Path
    line: int
    provider: ProviderSpec
    prompt: Prompt | None
    #: For suites without a prompt reference: the fixed messages' templates.
    system: str | None
    input_var: str
    vars: Mapping[str, Any]
    expected: Any
    assertions: tuple[PreparedAssertion, ...]
    threshold: float | None
    tags: tuple[str, ...] = ()
    skip: bool | str = False
    xfail: bool | str = False
    description: str | None = None
    #: Runs of this case; None: the run's default (ini `llmops_repeat`, `--llmops-repeat`).
    repeat: int | None = None
    reduce: ReduceRule = field(default_factory=lambda: ReduceRule("pass^k"))
    #: The data file the case is written in (``line`` is then its line there); None: the suite.
    source: Path | None = None
    #: The case's row in its data file.
    row: int | None = None
    #: Model parameters of the case (``defaults.options`` and its own ``options:``).
    options: Mapping[str, Any] = field(default_factory=dict)
    #: Prior turns of the conversation (templates), sent after the prompt's system messages.
    messages: tuple[Message, ...] = ()
    transform: Transform | None = None
    scoring: CaseScorer | None = None
    #: Files the case reads besides the suite and its prompt: its data file, `file://` values.
    files: tuple[Path, ...] = ()
    #: ``pairwise:``: the version this one is judged against (the next lower version of the same
    #: prompt in ``prompt:``), and the pairwise spec with its judge resolved; None for the lowest.
    against: Prompt | None = None
    pairwise: PairwiseSpec | None = None

    @property
    def variant(self) -> str:
        return f"{self.prompt.ref if self.prompt else '(no prompt)'} × {self.provider.display}"

    @property
    def written_in(self) -> Path:
        """The file the case is written in: its data file, or the suite."""
        return self.source or self.suite_path


@dataclass(frozen=True, slots=True)
class JudgeCheckPlan:
    """A labelled example, ready to run against the configured judge (``judge_checks:``)."""

    name: str  # item name: ``judge-check[NAME]``
    check: str
    suite_path: Path
    line: int
    assertion: PreparedAssertion
    output: str
    input: str | None
    expected: Any
    #: The verdict a person gave: True for pass.
    human_pass: bool
    note: str | None = None
    #: The retrieved context, for the context-* judges (the case variable ``context``).
    context: Any = None


@dataclass(frozen=True, slots=True)
class SuitePlan:
    path: Path
    spec: SuiteSpec
    cases: tuple[CasePlan, ...]
    judge_checks: tuple[JudgeCheckPlan, ...] = ()


def item_name(case: str, prompt_ref: str | None, provider: str) -> str:
    """The item name of one matrix cell: ``case[prompt@version-provider]`` or ``case[provider]``."""
    label = f"{prompt_ref}-{provider}" if prompt_ref else provider
    return f"{case}[{label}]"


def judge_check_item_name(check: str) -> str:
    """The item name of a judge check: ``judge-check[NAME]`` (a case's name cannot hold brackets)."""
    return f"judge-check[{check}]"


def _render_value(value: Any, variables: Mapping[str, Any]) -> Any:
    """Render ``{{ var }}`` inside an assertion's value (strings, lists and mappings)."""
    if isinstance(value, str):
        return render_template(value, variables)
    if isinstance(value, list):
        return [_render_value(v, variables) for v in value]
    if isinstance(value, dict):
        return {k: _render_value(v, variables) for k, v in value.items()}
    return value


#: Parameters that may name a file, and what the file must hold.
_FILE_PARAMS = {"response_format": dict, "tools": list}


def _param_files(params: Mapping[str, Any], base_dir: Path) -> tuple[dict[str, Any], list[Path]]:
    """``params`` with ``response_format``/``tools`` files read; raises SuiteError naming the key."""
    out, files = dict(params), list[Path]()
    for key, kind in _FILE_PARAMS.items():
        ref = file_ref(out.get(key))
        if ref is None:
            continue
        value = load_value_file(ref, base_dir, what=f"`{key}`")
        if not isinstance(value, kind):
            wanted = "a mapping" if kind is dict else "a list"
            raise SuiteError(f"`{key}`: file {ref!r} must hold {wanted}, not a {type(value).__name__}")
        out[key] = value
        files.append(resolve_path(ref, base_dir))
    return out, files


def _provider_with_files(
    spec: ProviderSpec, base_dir: Path, path: Path, line: int | None, files: list[Path]
) -> ProviderSpec:
    """The provider (and its fallbacks) with ``file://`` parameters read, relative to the suite;
    the files read are added to ``files``."""
    update: dict[str, Any] = {}
    try:
        for key in _FILE_PARAMS:
            if file_ref(getattr(spec, key)) is not None:
                params, read = _param_files({key: getattr(spec, key)}, base_dir)
                update[key] = params[key]
                files.extend(read)
    except SuiteError as exc:
        raise SuiteError(f"provider {spec.display!r}: {exc.bare_message}", path=path, line=line) from None
    if spec.fallback:
        update["fallback"] = [_provider_with_files(f, base_dir, path, line, files) for f in spec.fallback]
    target = spec.id.partition(":")[2]
    module, _, function = target.rpartition(":")
    if spec.kind == "python" and module.endswith(".py") and not Path(module).is_absolute():
        # `python:app.py:answer` is relative to the suite; reports keep the name as written.
        app = resolve_path(module, base_dir)
        update.update(id=f"python:{app}:{function}", label=spec.label or spec.id)
        files.append(app)
    return spec.model_copy(update=update) if update else spec


def _options(specs: tuple[OptionsSpec | None, ...]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for options in specs:
        if options is not None:
            merged.update(options.model_params())
    return merged


def _message(spec: MessageSpec) -> Message:
    if isinstance(spec.content, str):
        return Message(spec.role, spec.content)
    return Message.of_parts(spec.role, spec.content)


@dataclass
class _Compiled:
    """Transforms and scoring functions compiled once per text (every case shares the default)."""

    base_dir: Path
    transforms: dict[str, Transform] = field(default_factory=dict)
    scorers: dict[str, CaseScorer] = field(default_factory=dict)

    def transform(self, text: str | None) -> Transform | None:
        if text is None:
            return None
        if text not in self.transforms:
            try:
                self.transforms[text] = compile_transform(text, self.base_dir)
            except TransformError as exc:
                raise SuiteError(f"`transform`: {exc}") from None
        return self.transforms[text]

    def scorer(self, text: str | None) -> CaseScorer | None:
        if text is None:
            return None
        if text not in self.scorers:
            try:
                self.scorers[text] = compile_scorer(text, self.base_dir)
            except ValueError as exc:
                raise SuiteError(str(exc)) from None
        return self.scorers[text]


def load_suite(path: Path, *, prompts: Callable[[Path], PromptRegistry], session: Session) -> SuitePlan:
    """Parse, validate and expand a suite file; ``prompts(suite_dir)`` gives its registry.

    The session's judge and embedding defaults (ini) apply where the suite names none.
    """
    data, lines = load_yaml_file(path)
    spec = parse_model(SuiteSpec, data, lines, path, "suite")
    base_dir = path.parent

    resolved: list[Prompt | None] = []
    if spec.prompt:
        registry = prompts(base_dir)
        for index, reference in enumerate(spec.prompt):
            line = (
                lines.line(("prompt", index))
                if isinstance(data.get("prompt"), list)
                else lines.line(("prompt",))
            )
            try:
                resolved.append(registry.resolve(reference))
            except PromptError as exc:
                raise SuiteError(f"prompt {reference!r}: {exc}", path=path, line=line) from None
    else:
        resolved.append(None)

    providers = []
    provider_files: list[Path] = []
    for index, provider in enumerate(spec.provider):
        line = lines.line(("provider", index)) or lines.line(("provider",))
        provider = _provider_with_files(provider, base_dir, path, line, provider_files)
        providers.append(provider)
        for candidate in (provider, *provider.fallback):
            _check_provider(candidate, session, path, line)
        for prompt in resolved:
            if (
                provider.kind != "python"
                and provider.model is None
                and (prompt is None or prompt.model is None)
            ):
                raise SuiteError(
                    f"provider {provider.id!r} names no model and "
                    + (f"prompt {prompt.ref} has no `model:`" if prompt else "the suite has no prompt")
                    + f"; write e.g. `{provider.kind}:gpt-4o-mini`",
                    path=path,
                    line=line,
                )

    compiled = _Compiled(base_dir)
    defaults = spec.defaults
    try:
        compiled.transform(defaults.transform)
        compiled.scorer(defaults.scoring)
        default_options, default_files = _param_files(_options((defaults.options,)), base_dir)
        default_files.extend(provider_files)
    except SuiteError as exc:
        raise SuiteError(f"defaults: {exc.bare_message}", path=path, line=lines.line(("defaults",))) from None
    pairwise = _pairwise(spec, resolved, session, path, lines.line(("pairwise",)))
    cases: list[CasePlan] = []
    preparer = _Preparer(session, base_dir, path, judge=spec.judge, embedding=spec.embedding)
    # Defaults whose value needs no case variable are prepared once, the rest per case.
    default_asserts = [
        (
            item,
            lines.line(("defaults", "assert", i)),
            None
            if _needs_case(item)
            else preparer.prepare(item, None, lines.line(("defaults", "assert", i)), {}),
        )
        for i, item in enumerate(defaults.assert_)
    ]
    for sourced in suite_cases(spec, data, lines, path):
        cases.extend(
            _case_plans(
                sourced, spec, resolved, providers, preparer, default_asserts, compiled, default_options,
                default_files, pairwise,
            )
        )  # fmt: skip
    checks = _judge_checks(spec, lines, path, preparer)
    return SuitePlan(path, spec, tuple(cases), checks)


def _judge_checks(spec: SuiteSpec, lines: Any, path: Path, preparer: _Preparer) -> tuple[JudgeCheckPlan, ...]:
    """The suite's ``judge_checks:``, each with its judge assertion prepared."""
    plans: list[JudgeCheckPlan] = []
    seen: dict[str, int] = {}
    for index, check in enumerate(spec.judge_checks):
        line = lines.line(("judge_checks", index)) or 1
        if check.name in seen:
            raise SuiteError(
                f"judge check name {check.name!r} is used twice (first on line {seen[check.name]})",
                path=path,
                line=lines.line(("judge_checks", index, "name")) or line,
            )
        seen[check.name] = line
        assertion_line = lines.line(("judge_checks", index, "assert")) or line
        if not preparer.session.assertions.uses_judge(check.assert_.base_type):
            raise SuiteError(
                f"judge check {check.name!r}: `assert` must be a judge assertion (llm-rubric, g-eval,"
                " relevance, accuracy, safety, factuality, model-graded-closedqa, answer-relevance,"
                f" context-faithfulness, context-recall, context-relevance); {check.assert_.type!r}"
                " calls no judge",
                path=path,
                line=assertion_line,
            )
        context = check.context
        ref = file_ref(context)
        if ref is not None:
            try:
                context = load_value_file(
                    ref, preparer.base_dir, what=f"judge check {check.name!r}: `context`"
                )
            except SuiteError as exc:
                raise SuiteError(exc.bare_message, path=path, line=line) from None
        variables = {spec.input_var: check.input, "expected": check.expected, "context": context}
        prepared = preparer.prepare(
            check.assert_, None, assertion_line, variables, where=f"judge check {check.name!r}: "
        )
        plans.append(
            JudgeCheckPlan(
                name=judge_check_item_name(check.name),
                check=check.name,
                suite_path=path,
                line=line,
                assertion=prepared,
                output=check.output,
                input=check.input,
                expected=check.expected,
                human_pass=check.verdict == "pass",
                note=check.note,
                context=context,
            )
        )
    return tuple(plans)


def _case_plans(
    sourced: SourcedCase,
    spec: SuiteSpec,
    resolved: list[Prompt | None],
    providers: list[ProviderSpec],
    preparer: _Preparer,
    default_asserts: list[tuple[AssertionSpec, int | None, PreparedAssertion | None]],
    compiled: _Compiled,
    default_options: Mapping[str, Any],
    default_files: list[Path],
    pairwise: PairwiseSpec | None = None,
) -> list[CasePlan]:
    """The matrix cells of one case: every prompt version × provider."""
    case, name, source = sourced.spec, sourced.name, sourced.source
    where, line = source.path, source.line or 1
    base_dir = preparer.base_dir
    try:
        variables = {**spec.vars, **spec.defaults.vars, **case.vars}
        files = [where] if source.in_data_file else []
        for value in variables.values():
            ref = file_ref(value)
            if ref is not None:
                files.append(resolve_path(ref, base_dir))
        variables = _resolve_vars(variables, base_dir)
        options, option_files = _param_files({**default_options, **_options((case.options,))}, base_dir)
        transform = compiled.transform(case.transform or spec.defaults.transform)
        scoring = compiled.scorer(case.scoring or spec.defaults.scoring)
    except SuiteError as exc:
        raise SuiteError(f"case {name!r}: {exc.bare_message}", path=where, line=line) from None
    files.extend([*default_files, *option_files])
    if case.prompt is not None:
        variables[spec.input_var] = case.prompt
    template_vars = {**variables, "expected": case.expected}
    prepared = (
        *(
            ready or preparer.prepare(item, None, item_line, template_vars)
            for item, item_line, ready in default_asserts
        ),
        *(
            preparer.prepare(
                item,
                name,
                sourced.lines.line((*sourced.prefix, "assert", i)) or line,
                template_vars,
                path=where,
            )
            for i, item in enumerate(case.assert_)
        ),
    )
    files.extend(preparer.files_of(case.assert_, template_vars))
    if not prepared:
        raise SuiteError(
            f"case {name!r} has no assertions, so it could never fail; add `assert:` to "
            "the case or `defaults: {assert: [...]}` to the suite",
            path=where,
            line=line,
        )
    if spec.prompt == [] and case.prompt is None and not case.vars.get(spec.input_var) and not case.messages:
        raise SuiteError(
            f"case {name!r} has nothing to send: the suite names no `prompt:`, so each "
            f"case needs a `prompt:` (its user message)",
            path=where,
            line=line,
        )
    tags = tuple(
        dict.fromkeys([*spec.defaults.tags, *case.tags, *([case.category] if case.category else [])])
    )
    threshold = case.threshold if case.threshold is not None else spec.defaults.threshold
    reduce = parse_reduce(case.reduce if case.reduce is not None else spec.defaults.reduce)
    if reduce.kind == "mean" and threshold is None:
        raise SuiteError(
            f"case {name!r}: `reduce: mean` compares the mean score with a threshold; "
            "set `threshold:` on the case or in `defaults:`",
            path=where,
            line=line,
        )
    messages = tuple(_message(m) for m in case.messages or ())
    plans = []
    for prompt in resolved:
        against = _previous_version(prompt, resolved) if pairwise is not None else None
        for provider in providers:
            plans.append(
                CasePlan(
                    name=item_name(name, prompt.ref if prompt else None, provider.display),
                    case=name,
                    suite_path=preparer.path,
                    line=line,
                    provider=provider,
                    prompt=prompt,
                    system=spec.system,
                    input_var=spec.input_var,
                    vars=variables,
                    expected=case.expected,
                    assertions=prepared,
                    threshold=threshold,
                    tags=tags,
                    skip=case.skip,
                    xfail=case.xfail,
                    description=case.description,
                    repeat=case.repeat or spec.defaults.repeat,
                    reduce=reduce,
                    source=where if source.in_data_file else None,
                    row=source.row,
                    options=options,
                    messages=messages,
                    transform=transform,
                    scoring=scoring,
                    files=tuple(dict.fromkeys(files)),
                    against=against,
                    pairwise=pairwise if against is not None else None,
                )
            )
    return plans


def _resolve_vars(variables: dict[str, Any], base_dir: Path) -> dict[str, Any]:
    out = dict(variables)
    for key, value in variables.items():
        ref = file_ref(value)
        if ref is not None:
            out[key] = load_value_file(ref, base_dir, what=f"variable {key!r}")
    return out


def _previous_version(prompt: Prompt | None, resolved: Sequence[Prompt | None]) -> Prompt | None:
    """The highest version of the same prompt below ``prompt`` (what the version diff compares)."""
    if prompt is None:
        return None
    lower = [p for p in resolved if p is not None and p.name == prompt.name and p.version < prompt.version]
    return max(lower, key=lambda p: p.version) if lower else None


def _pairwise(
    spec: SuiteSpec, resolved: Sequence[Prompt | None], session: Session, path: Path, line: int | None
) -> PairwiseSpec | None:
    """The suite's ``pairwise:`` with its judge: its own, else the suite's, else the ini default."""
    if spec.pairwise is None:
        return None
    judge = spec.pairwise.provider or spec.judge or session.judge
    if judge is None:
        from ..assertions.judges import judge_setup_message

        raise SuiteError(judge_setup_message("pairwise"), path=path, line=line)
    _check_provider(judge, session, path, line)
    names = [p.name for p in resolved if p is not None]
    if not any(names.count(name) > 1 for name in names):
        raise SuiteError(
            "`pairwise:` compares versions of one prompt, and `prompt:` lists no prompt twice "
            "(e.g. `prompt: [support@2.0.0, support@2.1.0]`)",
            path=path,
            line=line,
        )
    return spec.pairwise.model_copy(update={"provider": judge})


def _check_provider(spec: ProviderSpec, session: Session, path: Path, line: int | None) -> None:
    """Build the provider once at collection, so bad settings are collection errors."""
    session.learn_secrets(spec)  # its key is redacted from the first line a run prints
    providers = session.providers
    if spec.kind not in providers:
        raise SuiteError(
            f"unknown provider {spec.id!r}.{suggest(spec.kind, providers.kinds())} "
            f"Known: {', '.join(k + ':<model>' for k in providers.kinds())}.",
            path=path,
            line=line,
        )
    try:
        providers.create(spec)
    except ValueError as exc:
        raise SuiteError(str(exc), path=path, line=line) from None


def _is_templated(value: Any) -> bool:
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, list):
        return any(_is_templated(v) for v in value)
    if isinstance(value, dict):
        return any(_is_templated(v) for v in value.values())
    return False


def _needs_case(spec: AssertionSpec) -> bool:
    """Whether an assertion reads the case's variables (its value, or an assert-set member's)."""
    return _is_templated(spec.value) or any(_needs_case(child) for child in spec.assert_ or ())


#: Types whose `value` is the path of a file they read themselves (a `file://` prefix is theirs).
_PATH_VALUED = frozenset({"python", "json-schema", "is-json", "contains-json", "is-valid-openai-tools-call"})


@dataclass(frozen=True, slots=True)
class _Preparer:
    """Prepares a suite's assertions: renders templated values, reads `file://` values, fills in
    the judge, validates."""

    session: Session
    base_dir: Path
    path: Path
    #: The suite's own `judge:` and `embedding:`; the session's defaults apply otherwise.
    judge: ProviderSpec | None = None
    embedding: ProviderSpec | None = None

    def _resolved(self, spec: AssertionSpec, variables: Mapping[str, Any]) -> AssertionSpec:
        update: dict[str, Any] = {}
        value = spec.value
        if _is_templated(value):
            value = update["value"] = _render_value(value, variables)
        ref = file_ref(value)
        if ref is not None and spec.base_type not in _PATH_VALUED:
            update["value"] = load_value_file(ref, self.base_dir, what=f"assertion {spec.type!r}: `value`")
        if spec.assert_:
            update["assert_"] = [self._resolved(child, variables) for child in spec.assert_]
        return spec.model_copy(update=update) if update else spec

    def files_of(self, specs: list[AssertionSpec], variables: Mapping[str, Any]) -> list[Path]:
        """The `file://` files the assertions' values name (read at collection, so tracked apart)."""
        found: list[Path] = []
        for spec in specs:
            value = _render_value(spec.value, variables) if _is_templated(spec.value) else spec.value
            ref = file_ref(value)
            if ref is not None and spec.base_type not in _PATH_VALUED:
                found.append(resolve_path(ref, self.base_dir))
            found.extend(self.files_of(list(spec.assert_ or ()), variables))
        return found

    def _check_code_path(self, spec: AssertionSpec) -> None:
        """A ``python`` assertion's .py file must be inside the rootdir or on sys.path (or opted in)."""
        for child in spec.assert_ or ():  # assert-set: its members run the same code
            self._check_code_path(child)
        if spec.base_type != "python" or not isinstance(spec.value, str):
            return
        text = spec.value.strip()
        is_file = text.startswith("file://")
        text = text.removeprefix("file://")
        target, colon, name = text.rpartition(":")
        named = bool(colon) and name.isidentifier()
        if not (is_file or named or text.endswith(".py")):
            return  # an inline expression: no code is loaded
        if not named:
            target = text  # `file://checks.py` or `checks.py`: the file's default function
        if not (target.endswith(".py") or "/" in target or "\\" in target):
            return  # a module name: imported from sys.path, which is the user's to set
        path = Path(target) if Path(target).is_absolute() else self.base_dir / target
        if not self.session.code_allowed(path):
            raise SuiteError(
                f"assertion 'python': {target!r} is outside the rootdir and sys.path "
                f"({path.resolve()}); a suite runs only the project's own code. Move the file into "
                "the project, or set `llmops_python_anywhere = true` in the ini file to allow it"
            )

    def prepare(
        self,
        spec: AssertionSpec,
        case: str | None,
        line: int | None,
        variables: Mapping[str, Any],
        *,
        path: Path | None = None,
        where: str | None = None,
    ) -> PreparedAssertion:
        where = where or (f"case {case!r}: " if case else "defaults: ")
        path = path or self.path
        try:
            spec = self._resolved(spec, variables)
            spec = self.session.with_judge(spec, judge=self.judge, embedding=self.embedding)
            self._check_code_path(spec)
            return self.session.assertions.prepare(spec, base_dir=self.base_dir, line=line)
        except SuiteError as exc:
            raise SuiteError(where + exc.bare_message, path=path, line=line) from None
        except jinja2.UndefinedError as exc:
            raise SuiteError(
                f"{where}assertion {spec.type!r}: `value` uses {exc}; variables: "
                f"{', '.join(sorted(variables)) or 'none'}",
                path=path,
                line=line,
            ) from None
        except jinja2.TemplateError as exc:
            raise SuiteError(
                f"{where}assertion {spec.type!r}: bad template in `value`: {exc}", path=path, line=line
            ) from None
