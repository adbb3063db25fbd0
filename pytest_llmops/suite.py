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

from .assertions import AssertionRegistry, PreparedAssertion
from .errors import PromptError, SuiteError
from .prompts import Prompt, PromptRegistry, render_template
from .providers import ProviderRegistry
from .schema import AssertionSpec, CaseSpec, ProviderSpec, SuiteSpec, parse_model, suggest
from .yamlio import LineMap, load_yaml_file

__all__ = ["CasePlan", "SuitePlan", "load_suite", "suite_stem"]

SUITE_SUFFIXES = (".llmops.yaml", ".llmops.yml", ".yaml", ".yml")


def suite_stem(path: Path) -> str:
    """``test_support.llmops.yaml`` -> ``test_support``."""
    for suffix in SUITE_SUFFIXES:
        if path.name.endswith(suffix):
            return path.name[: -len(suffix)]
    return path.stem


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
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def variant(self) -> str:
        return f"{self.prompt.ref if self.prompt else '(no prompt)'} × {self.provider.display}"


@dataclass(frozen=True, slots=True)
class SuitePlan:
    path: Path
    spec: SuiteSpec
    cases: tuple[CasePlan, ...]


def _render_value(value: Any, variables: Mapping[str, Any]) -> Any:
    """Render ``{{ var }}`` inside an assertion's value (strings, lists and mappings)."""
    if isinstance(value, str):
        return render_template(value, variables)
    if isinstance(value, list):
        return [_render_value(v, variables) for v in value]
    if isinstance(value, dict):
        return {k: _render_value(v, variables) for k, v in value.items()}
    return value


def load_suite(
    path: Path,
    *,
    prompts: Callable[[Path], PromptRegistry],
    assertions: AssertionRegistry,
    providers: ProviderRegistry,
) -> SuitePlan:
    """Parse, validate and expand a suite file; ``prompts(suite_dir)`` gives its registry."""
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
            _check_provider(candidate, providers, path, line)
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

    cases: list[CasePlan] = []
    seen: dict[str, int] = {}
    defaults_lines = lines.sub(("defaults",))
    default_asserts = _prepare_all(
        spec.defaults.assert_, None, assertions, base_dir, path, defaults_lines, ("assert",), {}
    )
    for key in ("tests", "test_cases"):
        case_specs: Sequence[CaseSpec] = getattr(spec, key)
        for index, case in enumerate(case_specs):
            case_lines = lines.sub((key, index))
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
            case_asserts = _prepare_all(
                case.assert_, case.name, assertions, base_dir, path, case_lines, ("assert",), template_vars
            )
            prepared = (
                *default_asserts_for(default_asserts, template_vars, assertions, base_dir, path),
                *case_asserts,
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
            for prompt in resolved:
                for provider in spec.provider:
                    label = f"{prompt.ref}-{provider.display}" if prompt else provider.display
                    cases.append(
                        CasePlan(
                            name=f"{case.name}[{label}]",
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
                        )
                    )
    return SuitePlan(path, spec, tuple(cases))


def _check_provider(spec: ProviderSpec, providers: ProviderRegistry, path: Path, line: int | None) -> None:
    """Build the provider once at collection, so bad settings are collection errors."""
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


@dataclass(frozen=True, slots=True)
class _DeferredDefault:
    """A suite default whose value uses case variables, prepared per case."""

    spec: AssertionSpec
    line: int | None
    prepared: PreparedAssertion | None


def _is_templated(value: Any) -> bool:
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, list):
        return any(_is_templated(v) for v in value)
    if isinstance(value, dict):
        return any(_is_templated(v) for v in value.values())
    return False


def _prepare_one(
    spec: AssertionSpec,
    case: str | None,
    registry: AssertionRegistry,
    base_dir: Path,
    path: Path,
    line: int | None,
    variables: Mapping[str, Any],
) -> PreparedAssertion:
    try:
        if _is_templated(spec.value):
            spec = spec.model_copy(update={"value": _render_value(spec.value, variables)})
        return registry.prepare(spec, base_dir=base_dir, line=line)
    except SuiteError as exc:
        raise SuiteError(_where(case) + exc.bare_message, path=path, line=line) from None
    except jinja2.UndefinedError as exc:
        raise SuiteError(
            f"{_where(case)}assertion {spec.type!r}: `value` uses {exc}; variables: "
            f"{', '.join(sorted(variables)) or 'none'}",
            path=path,
            line=line,
        ) from None
    except jinja2.TemplateError as exc:
        raise SuiteError(
            f"{_where(case)}assertion {spec.type!r}: bad template in `value`: {exc}", path=path, line=line
        ) from None


def _where(case: str | None) -> str:
    return f"case {case!r}: " if case else "defaults: "


def _prepare_all(
    specs: Sequence[AssertionSpec],
    case: str | None,
    registry: AssertionRegistry,
    base_dir: Path,
    path: Path,
    lines: LineMap,
    key: tuple[str],
    variables: Mapping[str, Any],
) -> list[_DeferredDefault] | tuple[PreparedAssertion, ...]:
    if case is None:  # suite defaults: prepare now unless the value needs a case's variables
        out: list[_DeferredDefault] = []
        for index, spec in enumerate(specs):
            line = lines.line((*key, index))
            prepared = (
                None
                if _is_templated(spec.value)
                else _prepare_one(spec, None, registry, base_dir, path, line, variables)
            )
            out.append(_DeferredDefault(spec, line, prepared))
        return out
    return tuple(
        _prepare_one(spec, case, registry, base_dir, path, lines.line((*key, index)), variables)
        for index, spec in enumerate(specs)
    )


def default_asserts_for(
    defaults: Any,
    variables: Mapping[str, Any],
    registry: AssertionRegistry,
    base_dir: Path,
    path: Path,
) -> tuple[PreparedAssertion, ...]:
    return tuple(
        d.prepared
        if d.prepared is not None
        else _prepare_one(d.spec, None, registry, base_dir, path, d.line, variables)
        for d in defaults
    )
