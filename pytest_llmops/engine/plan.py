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

from ..assertions.registry import PreparedAssertion
from ..errors import PromptError, SuiteError
from ..prompts.registry import Prompt, PromptRegistry
from ..prompts.render import render_template
from ..spec.schema import (
    AssertionSpec,
    CaseSpec,
    PairwiseSpec,
    ProviderSpec,
    ReduceRule,
    SuiteSpec,
    parse_reduce,
)
from ..spec.validation import parse_model, suggest
from ..spec.yamlio import load_yaml_file
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
    #: ``pairwise:``: the version this one is judged against (the next lower version of the same
    #: prompt in ``prompt:``), and the pairwise spec with its judge resolved; None for the lowest.
    against: Prompt | None = None
    pairwise: PairwiseSpec | None = None

    @property
    def variant(self) -> str:
        return f"{self.prompt.ref if self.prompt else '(no prompt)'} × {self.provider.display}"


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

    for index, provider in enumerate(spec.provider):
        line = lines.line(("provider", index)) or lines.line(("provider",))
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

    pairwise = _pairwise(spec, resolved, session, path, lines.line(("pairwise",)))
    cases: list[CasePlan] = []
    seen: dict[str, int] = {}
    preparer = _Preparer(session, base_dir, path, judge=spec.judge, embedding=spec.embedding)
    # Defaults whose value needs no case variable are prepared once, the rest per case.
    default_asserts = [
        (
            item,
            lines.line(("defaults", "assert", i)),
            None
            if _is_templated(item.value)
            else preparer.prepare(item, None, lines.line(("defaults", "assert", i)), {}),
        )
        for i, item in enumerate(spec.defaults.assert_)
    ]
    for key in ("tests", "test_cases"):
        case_specs: Sequence[CaseSpec] = getattr(spec, key)
        for index, case in enumerate(case_specs):
            line = lines.line((key, index)) or 1
            if case.name in seen:
                raise SuiteError(
                    f"case name {case.name!r} is used twice (first on line {seen[case.name]}); "
                    "case names must be unique in a suite",
                    path=path,
                    line=lines.line((key, index, "name")) or line,
                )
            seen[case.name] = line
            variables: dict[str, Any] = {**spec.vars, **spec.defaults.vars, **case.vars}
            if case.prompt is not None:
                variables[spec.input_var] = case.prompt
            template_vars = {**variables, "expected": case.expected}
            prepared = (
                *(
                    ready or preparer.prepare(item, None, item_line, template_vars)
                    for item, item_line, ready in default_asserts
                ),
                *(
                    preparer.prepare(item, case.name, lines.line((key, index, "assert", i)), template_vars)
                    for i, item in enumerate(case.assert_)
                ),
            )
            if not prepared:
                raise SuiteError(
                    f"case {case.name!r} has no assertions, so it could never fail; add `assert:` to "
                    "the case or `defaults: {assert: [...]}` to the suite",
                    path=path,
                    line=line,
                )
            if spec.prompt == [] and case.prompt is None and not case.vars.get(spec.input_var):
                raise SuiteError(
                    f"case {case.name!r} has nothing to send: the suite names no `prompt:`, so each "
                    f"case needs a `prompt:` (its user message)",
                    path=path,
                    line=line,
                )
            tags = tuple(
                dict.fromkeys([*spec.defaults.tags, *case.tags, *([case.category] if case.category else [])])
            )
            threshold = case.threshold if case.threshold is not None else spec.defaults.threshold
            reduce = parse_reduce(case.reduce if case.reduce is not None else spec.defaults.reduce)
            if reduce.kind == "mean" and threshold is None:
                raise SuiteError(
                    f"case {case.name!r}: `reduce: mean` compares the mean score with a threshold; "
                    "set `threshold:` on the case or in `defaults:`",
                    path=path,
                    line=line,
                )
            for prompt in resolved:
                against = _previous_version(prompt, resolved) if pairwise is not None else None
                for provider in spec.provider:
                    cases.append(
                        CasePlan(
                            name=item_name(case.name, prompt.ref if prompt else None, provider.display),
                            case=case.name,
                            suite_path=path,
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
                            against=against,
                            pairwise=pairwise if against is not None else None,
                        )
                    )
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
                f" relevance, accuracy, safety, factuality); {check.assert_.type!r} calls no judge",
                path=path,
                line=assertion_line,
            )
        variables = {spec.input_var: check.input, "expected": check.expected}
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
            )
        )
    return tuple(plans)


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


@dataclass(frozen=True, slots=True)
class _Preparer:
    """Prepares a suite's assertions: renders templated values, fills in the judge, validates."""

    session: Session
    base_dir: Path
    path: Path
    #: The suite's own `judge:` and `embedding:`; the session's defaults apply otherwise.
    judge: ProviderSpec | None = None
    embedding: ProviderSpec | None = None

    def prepare(
        self,
        spec: AssertionSpec,
        case: str | None,
        line: int | None,
        variables: Mapping[str, Any],
        *,
        where: str | None = None,
    ) -> PreparedAssertion:
        where = where or (f"case {case!r}: " if case else "defaults: ")
        try:
            if _is_templated(spec.value):
                spec = spec.model_copy(update={"value": _render_value(spec.value, variables)})
            spec = self.session.with_judge(spec, judge=self.judge, embedding=self.embedding)
            return self.session.assertions.prepare(spec, base_dir=self.base_dir, line=line)
        except SuiteError as exc:
            raise SuiteError(where + exc.bare_message, path=self.path, line=line) from None
        except jinja2.UndefinedError as exc:
            raise SuiteError(
                f"{where}assertion {spec.type!r}: `value` uses {exc}; variables: "
                f"{', '.join(sorted(variables)) or 'none'}",
                path=self.path,
                line=line,
            ) from None
        except jinja2.TemplateError as exc:
            raise SuiteError(
                f"{where}assertion {spec.type!r}: bad template in `value`: {exc}", path=self.path, line=line
            ) from None
