"""The assertion registry: a YAML ``type:`` finds its check here.

An assertion type is a *factory*: called once at collection with the assertion's spec (its
``value`` already rendered with the case's variables), it validates the configuration (raising
``AssertionConfigError``, which becomes a collection error at the assertion's line) and returns
a *check*, called at run time with the case's output. ``not-`` is applied here, once, for all.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import AssertionConfigError, CannotGrade
from ..results import AssertionResult, Grade, LLMResponse
from ..spec.schema import AssertionSpec
from ..spec.validation import suggest
from .transforms import Transform, TransformError, as_text, compile_transform

if TYPE_CHECKING:
    from ..prompts.render import RenderedPrompt
    from ..spec.schema import ProviderSpec

__all__ = [
    "AssertionContext",
    "AssertionFactory",
    "AssertionRegistry",
    "Check",
    "Judge",
    "PreparedAssertion",
    "default_registry",
    "register_assertion",
]


class Judge(Protocol):
    """Model calls on behalf of an assertion: recorded in the case's cassette, counted apart."""

    def complete(self, prompt: RenderedPrompt, provider: ProviderSpec) -> LLMResponse:
        """A chat completion from ``provider`` (raises ``ProviderError`` / ``CassetteError``)."""
        ...

    def embed(self, texts: list[str], provider: ProviderSpec) -> list[list[float]]:
        """Embeddings from an OpenAI-compatible ``/embeddings`` endpoint, one per text."""
        ...

    def moderate(self, text: str, provider: ProviderSpec) -> Mapping[str, Any]:
        """OpenAI's ``/moderations`` result for ``text``: ``{flagged, categories, category_scores}``."""
        ...


_SAME_AS_OUTPUT: Any = object()
#: The keys ``context[...]`` answers (the fields, and what promptfoo's checks call them).
_CONTEXT_KEYS = ("output", "value", "vars", "expected", "prompt", "response", "case_id", "params")


@dataclass(frozen=True, slots=True)
class AssertionContext:
    """What a check sees of the case it is checking.

    Fields are read as attributes (``ctx.vars``) or as items (``ctx["vars"]``, as promptfoo's
    checks do): ``output`` (the text checked: the answer, or what a transform made of it, as
    text), ``value`` (what a transform returned; the output text when there is none), ``vars``,
    ``expected``, ``prompt`` (the ``RenderedPrompt`` sent), ``response`` (the ``LLMResponse``:
    usage, latency, ``tool_calls``, metadata), ``case_id`` and ``params`` (the model parameters
    the call was sent with: ``tools``, ``response_format``, ...).
    """

    output: str
    response: LLMResponse
    vars: Mapping[str, Any] = field(default_factory=dict)
    expected: Any = None
    prompt: RenderedPrompt | None = None
    #: Where the case lives, e.g. ``test_support.llmops.yaml::refund``; for messages.
    case_id: str = ""
    #: For judge and similarity assertions; None outside a case run.
    judge: Judge | None = None
    #: What the transforms returned (the output text when there are none).
    value: Any = _SAME_AS_OUTPUT
    #: The model parameters of the call (prompt, provider and case options merged).
    params: Mapping[str, Any] = field(default_factory=dict)
    #: Why the case's transform failed, if it did: every assertion then fails with it.
    transform_error: str | None = None

    def __post_init__(self) -> None:
        if self.value is _SAME_AS_OUTPUT:
            object.__setattr__(self, "value", self.output)

    def __getitem__(self, key: str) -> Any:
        if key not in _CONTEXT_KEYS:
            raise KeyError(f"{key!r}: the context holds {', '.join(_CONTEXT_KEYS)}")
        return getattr(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key) if key in _CONTEXT_KEYS else default

    def keys(self) -> tuple[str, ...]:
        return _CONTEXT_KEYS

    def __contains__(self, key: object) -> bool:
        return key in _CONTEXT_KEYS

    def transformed(self, value: Any) -> AssertionContext:
        """This context with ``value`` as what the checks see."""
        return dataclasses.replace(self, output=as_text(value), value=value)


class Check(Protocol):
    """Grades one output. Raise nothing for a failed check: return ``Grade(passed=False, ...)``."""

    def __call__(self, ctx: AssertionContext) -> Grade: ...


class AssertionFactory(Protocol):
    """Validates an assertion's configuration at collection and returns its check."""

    def __call__(self, spec: AssertionSpec, *, base_dir: Path) -> Check: ...


@dataclass(frozen=True, slots=True)
class PreparedAssertion:
    """An assertion ready to run: its spec, its check and where it was written."""

    spec: AssertionSpec
    check: Check
    line: int | None = None
    #: This assertion's own ``transform:``, applied to what the case's transform made.
    transform: Transform | None = None

    def grade(self, ctx: AssertionContext) -> Grade:
        """The check's grade with ``not-`` applied; raises ``CannotGrade`` (and what a check raises).

        ``not-`` never turns "unscored" into a pass.
        """
        grade = self.check(ctx)
        if self.spec.negated and not grade.unscored:
            grade = Grade(not grade.passed, 1.0 - grade.score, f"not: {grade.reason}", raw=grade.raw)
        return grade

    def run(self, ctx: AssertionContext) -> AssertionResult:
        """Run the check, apply ``not-``, and never let an exception escape as a crash."""
        if ctx.transform_error is not None:  # nothing to check: fails, and `not-` cannot flip it
            return self._result(Grade(False, 0.0, ctx.transform_error))
        if self.transform is not None:
            try:
                ctx = ctx.transformed(self.transform.apply(ctx.value, ctx))
            except Exception as exc:  # the user's transform may raise anything
                reason = f"transform {self.transform.source!r} raised {type(exc).__name__}: {exc}"
                return self._result(Grade(False, 0.0, reason))
        try:
            return self._result(self.grade(ctx))
        except CannotGrade as exc:
            return self._result(Grade(False, 0.0, str(exc)))
        except Exception as exc:  # a user's python assertion may raise anything; never a pass
            return self._result(Grade(False, 0.0, f"the check raised {type(exc).__name__}: {exc}"))

    def _result(self, grade: Grade) -> AssertionResult:
        return AssertionResult(
            type=self.spec.type,
            passed=grade.passed and not grade.unscored,
            score=max(0.0, min(1.0, float(grade.score))),
            reason=grade.reason,
            weight=self.spec.weight,
            metric=self.spec.metric,
            line=self.line,
            unscored=grade.unscored,
            raw=grade.raw,
        )


class AssertionRegistry:
    """Maps assertion type names to factories.

    A run's registry holds what plugins registered through ``pytest_llmops_register_assertions``
    and looks everything else up in its ``parent`` at use: the registry that ``register_assertion``
    decorates into (the built-in types live there too). Nothing is copied, so a type decorated in
    a ``conftest.py`` that loads after the run started is found when a suite first asks for it.
    ``refresh`` (set by the plugin) is asked once on a miss, for hook registrations made late.
    """

    def __init__(
        self,
        parent: AssertionRegistry | None = None,
        refresh: Callable[[AssertionRegistry], None] | None = None,
    ) -> None:
        self._factories: dict[str, AssertionFactory] = {}
        self._judged: dict[str, bool] = {}
        self._parent = parent
        self._refresh = refresh

    def register(
        self, name: str, factory: AssertionFactory, *, replace: bool = False, uses_judge: bool = False
    ) -> None:
        """Add a type; ``uses_judge`` types get the suite's (or ini's) judge as ``spec.provider``."""
        if name.startswith("not-"):
            raise ValueError(f"register {name[4:]!r}; the `not-` form comes for free")
        if name == ASSERT_SET:
            raise ValueError(f"{ASSERT_SET!r} is built into the registry and cannot be registered")
        if self._find(name) is not None and not replace:
            raise ValueError(f"assertion type {name!r} is already registered (pass replace=True)")
        self._factories[name] = factory
        self._judged[name] = uses_judge

    def _find(self, name: str) -> tuple[AssertionFactory, bool] | None:
        if name in self._factories:
            return self._factories[name], self._judged[name]
        return self._parent._find(name) if self._parent is not None else None

    def _lookup(self, name: str) -> tuple[AssertionFactory, bool] | None:
        found = self._find(name)
        if found is None and self._refresh is not None:
            self._refresh(self)
            found = self._find(name)
        return found

    def uses_judge(self, name: str) -> bool:
        """Whether a type calls a model (a judge or an embedding endpoint)."""
        found = self._lookup(name.removeprefix("not-"))
        return found is not None and found[1]

    def names(self) -> list[str]:
        inherited = self._parent.names() if self._parent is not None else [ASSERT_SET]
        return sorted({*inherited, *self._factories})

    def factory(self, name: str) -> AssertionFactory:
        found = self._lookup(name)
        if found is None:
            raise KeyError(name)
        return found[0]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and (name == ASSERT_SET or self._lookup(name) is not None)

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def update(self, other: AssertionRegistry) -> None:
        """Take the types ``other`` registered and this one lacks (a refresh)."""
        for name, factory in other._factories.items():
            if name not in self._factories:
                self.register(name, factory, uses_judge=other._judged[name], replace=True)

    def prepare(self, spec: AssertionSpec, *, base_dir: Path, line: int | None = None) -> PreparedAssertion:
        """Find the type's factory and build the check; unknown types get a "did you mean"."""
        transform = None
        if spec.transform is not None:
            try:
                transform = compile_transform(spec.transform, base_dir)
            except TransformError as exc:
                raise AssertionConfigError(f"{spec.type}: `transform`: {exc}", line=line) from None
        if spec.base_type == ASSERT_SET:
            children = tuple(
                self.prepare(child, base_dir=base_dir, line=line) for child in spec.assert_ or ()
            )
            return PreparedAssertion(spec, _set_check(spec, children), line, transform)
        found = self._lookup(spec.base_type)
        if found is None:
            foreign = _FOREIGN_TYPES.get(spec.base_type, "")
            hint = foreign or suggest(spec.base_type, self.names())
            raise AssertionConfigError(
                f"unknown assertion type {spec.type!r}.{hint} Known types: {', '.join(self.names())}"
                " (each also as `not-<type>`).",
                line=line,
            )
        return PreparedAssertion(spec, found[0](spec, base_dir=base_dir), line, transform)


ASSERT_SET = "assert-set"
#: Types other tools have that are not ours, with what to write instead.
_FOREIGN_TYPES = {
    "javascript": (
        " pytest-llmops runs Python, not JavaScript: write the check as `type: python` with a"
        " one-line expression (e.g. value: 'len(output) < 200') or a `file.py:function`;"
        " `python -m pytest_llmops import-promptfoo` translates simple JavaScript checks."
    ),
}


def _set_check(spec: AssertionSpec, children: tuple[PreparedAssertion, ...]) -> Check:
    """``assert-set``: its assertions' weighted mean, against its own ``threshold`` (else all must pass)."""
    for name in ("value", "min", "max"):
        if getattr(spec, name) is not None:
            raise AssertionConfigError(
                f"{spec.type}: `{name}` does not apply to an assert-set (it uses `threshold`, `weight`,"
                " `metric` and `assert`); remove it"
            )
    threshold = spec.threshold
    if threshold is not None and not 0.0 <= threshold <= 1.0:
        raise AssertionConfigError(
            f"{spec.type}: `threshold` is a pass mark on the set's 0–1 score, e.g. threshold: 0.5;"
            f" got {threshold:g}"
        )

    def check(ctx: AssertionContext) -> Grade:
        results = [child.run(ctx) for child in children]
        weighted = [r for r in results if r.weight > 0 and not r.unscored]
        total = sum(r.weight for r in weighted)
        score = sum(r.score * r.weight for r in weighted) / total if total else 0.0
        passed_count = sum(1 for r in results if r.passed)
        listed = "; ".join(f"{'ok' if r.passed else 'FAIL'} {r.type}: {r.reason}" for r in results)
        summary = f"{passed_count} of {len(results)} passed"
        if any(r.unscored and r.weight > 0 for r in results):
            return Grade(
                False,
                score,
                f"unscored: a judge in the set could not be read ({summary}): {listed}",
                unscored=True,
            )
        if threshold is None:
            passed = all(r.passed for r in results if r.weight > 0)
            rule = "all must pass"
        else:
            passed = score >= threshold
            rule = f"score {score:.2f} {'>=' if passed else '<'} {threshold:g}"
        return Grade(passed, score, f"{summary} ({rule}): {listed}")

    return check


#: What ``register_assertion`` decorates into; the built-in types register here on import.
default_registry = AssertionRegistry()


def register_assertion(
    name: str, *, registry: AssertionRegistry | None = None, uses_judge: bool = False
) -> Callable[[AssertionFactory], AssertionFactory]:
    """Decorator: ``@register_assertion("contains")`` on a factory."""

    def decorate(factory: AssertionFactory) -> AssertionFactory:
        (registry or default_registry).register(name, factory, uses_judge=uses_judge)
        return factory

    return decorate
