"""The assertion registry: a YAML ``type:`` finds its check here.

An assertion type is a *factory*: called once at collection with the assertion's spec (its
``value`` already rendered with the case's variables), it validates the configuration (raising
``AssertionConfigError``, which becomes a collection error at the assertion's line) and returns
a *check*, called at run time with the case's output. ``not-`` is applied here, once, for all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import AssertionConfigError, CannotGrade
from ..results import AssertionResult, Grade, LLMResponse
from ..spec.schema import AssertionSpec
from ..spec.validation import suggest

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


@dataclass(frozen=True, slots=True)
class AssertionContext:
    """What a check sees of the case it is checking."""

    output: str
    response: LLMResponse
    vars: Mapping[str, Any] = field(default_factory=dict)
    expected: Any = None
    prompt: RenderedPrompt | None = None
    #: Where the case lives, e.g. ``test_support.llmops.yaml::refund``; for messages.
    case_id: str = ""
    #: For judge and similarity assertions; None outside a case run.
    judge: Judge | None = None


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
        inherited = self._parent.names() if self._parent is not None else []
        return sorted({*inherited, *self._factories})

    def factory(self, name: str) -> AssertionFactory:
        found = self._lookup(name)
        if found is None:
            raise KeyError(name)
        return found[0]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._lookup(name) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def update(self, other: AssertionRegistry) -> None:
        """Take the types ``other`` registered and this one lacks (a refresh)."""
        for name, factory in other._factories.items():
            if name not in self._factories:
                self.register(name, factory, uses_judge=other._judged[name], replace=True)

    def prepare(self, spec: AssertionSpec, *, base_dir: Path, line: int | None = None) -> PreparedAssertion:
        """Find the type's factory and build the check; unknown types get a "did you mean"."""
        found = self._lookup(spec.base_type)
        if found is None:
            hint = suggest(spec.base_type, self.names())
            raise AssertionConfigError(
                f"unknown assertion type {spec.type!r}.{hint} Known types: {', '.join(self.names())}"
                " (each also as `not-<type>`).",
                line=line,
            )
        return PreparedAssertion(spec, found[0](spec, base_dir=base_dir), line)


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
