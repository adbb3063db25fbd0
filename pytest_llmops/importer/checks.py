"""promptfoo assertions, transforms and scoring functions in pytest-llmops' vocabulary.

What has an equivalent is written as it (JavaScript one-liners as Python expressions, see
``javascript``); what has none becomes a function in the suite's ``checks.py``: a stub that
FAILS, with the original code as a comment, until someone writes it. Nothing is dropped
silently and nothing untranslated can pass.
"""

from __future__ import annotations

import ast
import contextlib
import textwrap
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..assertions.expressions import ExpressionError, compile_expression
from .javascript import JavaScriptError, translate

__all__ = ["CHECKS_FILE", "Checks", "Translation"]

CHECKS_FILE = "checks.py"
#: promptfoo types that are ours under the same name.
SAME = frozenset(
    {
        "equals", "contains", "icontains", "contains-any", "contains-all", "icontains-any", "icontains-all",
        "starts-with", "regex", "is-json", "contains-json", "levenshtein", "latency", "cost", "similar",
        "llm-rubric", "factuality", "is-valid-openai-tools-call", "tool-call-f1", "is-refusal", "rouge-n",
        "bleu", "moderation", "answer-relevance", "model-graded-closedqa", "context-faithfulness",
        "context-recall", "context-relevance", "word-count", "ends-with",
    }
)  # fmt: skip
RENAMED = {"model-graded-factuality": "factuality"}
MODEL_GRADED = frozenset(
    {"llm-rubric", "g-eval", "factuality", "answer-relevance", "model-graded-closedqa",
     "context-faithfulness", "context-recall", "context-relevance"}
)  # fmt: skip
#: Where promptfoo's default differs from ours, the importer writes promptfoo's.
PROMPTFOO_THRESHOLDS = {"similar": 0.75, "g-eval": 0.7}
_FINISH = {
    "stop": ("stop", "end_turn", "stop_sequence"),
    "length": ("length", "max_tokens"),
    "tool_calls": ("tool_calls", "tool_use"),
    "content_filter": ("content_filter", "refusal"),
}
_KEPT = ("value", "threshold", "weight", "metric")
_EXPRESSION_NAMES = frozenset({"output", "vars", "expected", "context"})
_NUMERIC_CALLS = frozenset({"max", "min", "abs", "round", "len", "float", "int", "sum"})
#: promptfoo passes a check that returns a number when the number is above 0; ours compare
#: with a threshold, so a translated numeric check gets this one.
NUMERIC_THRESHOLD = 0.000001
_HEADER = '''"""Checks imported from promptfoo by `python -m pytest_llmops import-promptfoo`.

A function marked NOT TRANSLATED stands in for code that has no equivalent here: it FAILS (never
a silent pass) until you write it; the original is kept in its comment.
"""

from __future__ import annotations

import json  # noqa: F401 - imported checks may use them
import math  # noqa: F401
import re  # noqa: F401
'''


@dataclass
class Translation:
    """What the translation of one config could not keep as it was."""

    untranslated: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _numeric(expression: str) -> bool:
    """Whether an expression computes a number (promptfoo's 'score'), not a yes or no."""
    node = ast.parse(expression, mode="eval").body
    if isinstance(node, ast.Constant):
        return isinstance(node.value, (int, float)) and not isinstance(node.value, bool)
    if isinstance(node, ast.BinOp):
        return True
    if isinstance(node, ast.Call):
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        on_math = (
            isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "math"
        )
        return name in _NUMERIC_CALLS or on_math
    return False


def _comment(code: str) -> str:
    return "\n".join(f"    #   {line}" if line.strip() else "    #" for line in code.strip().splitlines())


def _valid_expression(text: str) -> bool:
    try:
        compile_expression(text, _EXPRESSION_NAMES)
    except ExpressionError:
        return False
    return True


@dataclass
class Checks:
    """The functions of the suite's ``checks.py`` and the translation of each assertion."""

    report: Translation
    #: Copies the file a promptfoo ``file://`` reference names into the suite; returns its new path.
    copy: Callable[[str], str]
    #: The text of the file a ``file://`` reference names (for the comment of a stub).
    read: Callable[[str], str]
    functions: list[str] = field(default_factory=list)

    def source(self) -> str | None:
        """The text of ``checks.py``, or None when no function was needed."""
        if not self.functions:
            return None
        return _HEADER + "\n\n" + "\n\n\n".join(self.functions) + "\n"

    def _function(self, kind: str, arguments: str, body: str) -> str:
        name = f"{kind}_{sum(1 for f in self.functions if f.startswith(f'def {kind}_')) + 1}"
        self.functions.append(f"def {name}({arguments}):\n{body}")
        return f"{CHECKS_FILE}:{name}"

    def stub(self, kind: str, where: str, language: str, code: str, failing: str) -> str:
        """A failing placeholder for ``code``; returns its reference, and notes it."""
        arguments = "scores, context" if kind == "scoring" else "output, context"
        body = f"    # NOT TRANSLATED: promptfoo {language} ({where}):\n{_comment(code)}\n{failing}"
        reference = self._function(kind, arguments, body)
        self.report.untranslated.append(
            f"{where}: {language} has no equivalent; wrote a failing stub {reference}"
        )
        return reference

    # --- assertions --------------------------------------------------------------------------

    def assertion(self, spec: Mapping[str, Any], where: str, grader: Any = None) -> dict[str, Any]:
        """One promptfoo assertion in our vocabulary (a stub that fails when it has none)."""
        raw_type = str(spec.get("type", ""))
        negated = raw_type.startswith("not-")
        base = raw_type.removeprefix("not-")
        prefix = "not-" if negated else ""
        out: dict[str, Any] = {k: spec[k] for k in _KEPT if spec.get(k) is not None}
        for key in sorted(set(spec) - {"type", "transform", "provider", *_KEPT, "assert"}):
            self.report.notes.append(
                f"{where}: `{key}` of a {raw_type} assertion is not translated; left out"
            )
        if spec.get("transform") is not None:
            out["transform"] = self.transform(spec["transform"], f"{where}.transform")
        provider = spec.get("provider", grader if base in MODEL_GRADED or base == "similar" else None)
        if provider is not None:
            out["provider"] = provider
        if base == "assert-set":
            out["assert"] = [
                self.assertion(a, f"{where}.assert[{i}]", grader)
                for i, a in enumerate(spec.get("assert") or [])
            ]
            return {"type": f"{prefix}assert-set", **out}
        if base in SAME or base in RENAMED:
            kind = RENAMED.get(base, base)
            if kind in PROMPTFOO_THRESHOLDS and "threshold" not in out:
                out["threshold"] = PROMPTFOO_THRESHOLDS[kind]
            if kind in ("contains-any", "contains-all", "icontains-any", "icontains-all") and isinstance(
                out.get("value"), str
            ):
                out["value"] = [part.strip() for part in out["value"].split(",") if part.strip()]
            return {"type": prefix + kind, **out}
        if base == "g-eval":
            return self._g_eval(prefix, out, where)
        if base == "javascript":
            return self._javascript(prefix, out, where)
        if base == "python":
            return self._python(prefix, out, where)
        if base == "finish-reason":
            wanted = _FINISH.get(str(out.pop("value", "")), (str(spec.get("value")),))
            return {
                "type": f"{prefix}python",
                "value": f"context['response'].finish_reason in {wanted!r}",
                **out,
            }
        reference = self.stub(
            "check", where, f"assertion type {raw_type!r}", repr(dict(spec)),
            f'    return {{"pass": False, "score": 0.0, "reason": "not translated: promptfoo {raw_type}"}}',
        )  # fmt: skip
        return {
            "type": "python",
            "value": reference,
            **{k: v for k, v in out.items() if k in ("weight", "metric")},
        }

    def _g_eval(self, prefix: str, out: dict[str, Any], where: str) -> dict[str, Any]:
        criteria = out.pop("value", None)
        if isinstance(criteria, list):  # promptfoo: several criteria, each its own g-eval
            self.report.notes.append(
                f"{where}: g-eval with {len(criteria)} criteria became an assert-set of g-evals"
            )
            members = [self._g_eval("", {**out, "value": c}, where) for c in criteria]
            return {"type": f"{prefix}assert-set", "assert": members}
        text = str(criteria or "")
        # promptfoo generates the evaluation steps at run time, so its rubric can drift; ours are
        # written down once, here, and reviewed like the rest of the suite.
        steps = [
            "Read the input and the output.",
            f"Compare the output with the criteria: {text}",
            "Decide how fully the output meets the criteria, from 1 (not at all) to 5 (fully).",
        ]
        self.report.notes.append(
            f"{where}: g-eval's evaluation steps were written by the importer (promptfoo generates"
            " them at run time); review them"
        )
        out.setdefault("threshold", PROMPTFOO_THRESHOLDS["g-eval"])
        return {"type": f"{prefix}g-eval", "criteria": text, "steps": steps, **out}

    def _javascript(self, prefix: str, out: dict[str, Any], where: str) -> dict[str, Any]:
        code = out.pop("value", "")
        code = code if isinstance(code, str) else repr(code)
        if code.startswith("file://"):
            return {"type": f"{prefix}python", "value": self._js_file_stub(code, where), **out}
        try:
            expression = translate(code)
        except JavaScriptError as exc:
            reference = self.stub(
                "check", where, f"javascript ({exc})", code,
                '    return {"pass": False, "score": 0.0, "reason": "not translated from JavaScript yet"}',
            )  # fmt: skip
            return {"type": f"{prefix}python", "value": reference, **out}
        if not _valid_expression(expression):
            reference = self.stub(
                "check", where, "javascript (its translation uses what expressions may not)", code,
                '    return {"pass": False, "score": 0.0, "reason": "not translated from JavaScript yet"}',
            )  # fmt: skip
            return {"type": f"{prefix}python", "value": reference, **out}
        return {
            "type": f"{prefix}python",
            "value": expression,
            **self._score_threshold(expression, out, where),
        }

    def _score_threshold(self, expression: str, out: dict[str, Any], where: str) -> dict[str, Any]:
        if "threshold" not in out and _numeric(expression):
            self.report.notes.append(
                f"{where}: the check returns a score; promptfoo passes any score above 0, so it got"
                f" threshold: {NUMERIC_THRESHOLD}"
            )
            return {**out, "threshold": NUMERIC_THRESHOLD}
        return out

    def _js_file_stub(self, reference: str, where: str) -> str:
        path = reference[len("file://") :].partition(":")[0]
        try:
            code = f"// {reference}\n" + self.read(f"file://{path}")
        except OSError:
            code = f"// {reference} (the file could not be read)"
        return self.stub(
            "check", where, f"javascript file {reference}", code,
            '    return {"pass": False, "score": 0.0, "reason": "not translated from JavaScript yet"}',
        )  # fmt: skip

    def _python(self, prefix: str, out: dict[str, Any], where: str) -> dict[str, Any]:
        code = out.pop("value", "")
        code = code if isinstance(code, str) else str(code)
        if code.startswith("file://"):
            path, sep, function = code[len("file://") :].partition(":")
            copied = self.copy(f"file://{path}")
            return {"type": f"{prefix}python", "value": f"file://{copied}{sep}{function}", **out}
        text = code.strip()
        if "\n" not in text and _valid_expression(text):
            return {"type": f"{prefix}python", "value": text, **self._score_threshold(text, out, where)}
        body = text if "\n" in text else f"return {text}"
        # promptfoo runs a multi-line python check as the body of a function of (output, context).
        reference = self._function(
            "check", "output, context", f"    # promptfoo python ({where})\n" + textwrap.indent(body, "    ")
        )
        self.report.notes.append(f"{where}: the python check became {reference}")
        return {"type": f"{prefix}python", "value": reference, **out}

    # --- transforms and scoring ----------------------------------------------------------------

    def transform(self, code: Any, where: str) -> str:
        """A transform in our vocabulary; one with no equivalent raises, so every check fails."""
        text = str(code).strip()
        if text.startswith("file://"):
            path, _, function = text[len("file://") :].partition(":")
            if path.endswith(".py"):
                return f"{self.copy(f'file://{path}')}:{function or 'get_transform'}"
            with contextlib.suppress(OSError):
                text = f"// {text}\n" + self.read(f"file://{path}")
        else:
            try:
                expression = translate(text)
            except JavaScriptError:
                expression = ""
            if expression and _valid_expression(expression):
                return expression
        failing = '    raise NotImplementedError("transform not translated from promptfoo yet")'
        return self.stub("transform", where, "transform", text, failing)

    def scoring(self, reference: Any, where: str) -> str:
        text = str(reference).strip()
        path, _, function = text.removeprefix("file://").partition(":")
        if text.startswith("file://") and path.endswith(".py"):
            return f"{self.copy(f'file://{path}')}:{function or 'get_assert'}"
        if text.startswith("file://"):
            with contextlib.suppress(OSError):
                text = f"// {text}\n" + self.read(f"file://{path}")
        failing = '    return {"pass": False, "score": 0.0, "reason": "scoring function not translated yet"}'
        return self.stub("scoring", where, "scoring function", text, failing)
