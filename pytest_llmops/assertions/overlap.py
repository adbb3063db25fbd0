"""Overlap with a reference text: ``rouge-n`` (ROUGE-1 F-measure) and ``bleu`` (sentence BLEU).

Both compare the output with ``value`` (one reference, or a list of them) or else the case's
``expected``, and pass at ``threshold`` (default 0.75 for ``rouge-n`` and 0.5 for ``bleu``, as
in promptfoo). The scores come from the reference implementations, not our own: Google's
``rouge-score`` (whose tokenizer lowercases and keeps ASCII letters and digits only, so it suits
English text) and ``sacrebleu`` (``sentence_bleu`` with its default exponential smoothing,
divided by 100). Both are the ``[metrics]`` extra, imported when a suite first uses them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import AssertionConfigError, CannotGrade
from ..results import Grade
from ..spec.schema import AssertionSpec
from .config import assertion_type, config_error, got, number
from .reasons import quote
from .registry import AssertionContext, Check

__all__ = ["METRICS_HINT"]

METRICS_HINT = "pip install 'pytest-llmops[metrics]'"


def _library(spec: AssertionSpec, module: str, package: str) -> Any:
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError:
        raise AssertionConfigError(f"{spec.type} needs the {package} package: {METRICS_HINT}") from None
    except ImportError as exc:  # installed, but broken (a compiled dependency that will not load)
        raise AssertionConfigError(f"{spec.type}: importing {package} failed: {exc}") from None


def _references(spec: AssertionSpec) -> list[str] | None:
    value = spec.value
    if value is None:
        return None
    if isinstance(value, str) and value.strip():
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, str) and v.strip() for v in value):
        return list(value)
    raise config_error(
        spec,
        "`value` is the reference text (or a list of them), e.g. value: 'Paris is the capital';"
        f" {got(value)}",
    )


def _threshold(spec: AssertionSpec, default: float) -> float:
    if spec.threshold is None:
        return default
    found = number(spec, spec.threshold, "threshold", f"threshold: {default:g}")
    if not 0.0 <= found <= 1.0:
        raise config_error(
            spec, f"`threshold` is a score from 0 to 1, e.g. threshold: {default:g}; got {found:g}"
        )
    return found


def _overlap(
    spec: AssertionSpec, name: str, default: float, score: Callable[[str, list[str]], float]
) -> Check:
    references = _references(spec)
    threshold = _threshold(spec, default)

    def check(ctx: AssertionContext) -> Grade:
        refs = references
        if refs is None:
            if ctx.expected is None:
                raise CannotGrade(
                    f"{spec.type}: no reference text: set `value` on the assertion or `expected` on the case"
                )
            refs = (
                [str(ctx.expected)] if not isinstance(ctx.expected, list) else [str(e) for e in ctx.expected]
            )
        found = score(ctx.output, refs)
        passed = found >= threshold
        shown = quote(refs[0], 80) + (f" (+{len(refs) - 1} more)" if len(refs) > 1 else "")
        return Grade(
            passed, found, f"{name} {found:.2f} {'>=' if passed else '<'} {threshold:g} against {shown}"
        )

    return check


@assertion_type("rouge-n", "value", "threshold")
def _rouge(spec: AssertionSpec, *, base_dir: Path) -> Check:
    rouge_scorer = _library(spec, "rouge_score.rouge_scorer", "rouge-score")
    scorer = rouge_scorer.RougeScorer(["rouge1"])

    def score(output: str, references: list[str]) -> float:
        return max(float(scorer.score(ref, output)["rouge1"].fmeasure) for ref in references)

    return _overlap(spec, "ROUGE-1 F", 0.75, score)


@assertion_type("bleu", "value", "threshold")
def _bleu(spec: AssertionSpec, *, base_dir: Path) -> Check:
    sacrebleu = _library(spec, "sacrebleu", "sacrebleu")

    def score(output: str, references: list[str]) -> float:
        return float(sacrebleu.sentence_bleu(output, references).score) / 100.0

    return _overlap(spec, "BLEU", 0.5, score)
