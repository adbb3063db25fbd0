"""Any lock file or baseline is read, or is one clean error naming the file: never a traceback.

Hypothesis properties over the two kinds of file a run reads besides suites, prompts and
cassettes (``test_fuzz.py``): lock files (YAML: wrong types, deep nesting, aliases, binary) and
baselines (JSON reports whose case entries hold any JSON value in any field: NaN, 1e999,
5,000-digit numbers, strings for scores). A baseline that is read must then serve the gates and
every report without a crash. The seeds are the variants that crashed before (issue 21).
Examples: a few dozen per property normally, thousands under ``HYPOTHESIS_PROFILE=fuzz``.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from pytest_llmops.errors import LockfileError, ReportError
from pytest_llmops.gates.evaluation import evaluate
from pytest_llmops.prompts.lockfile import LockFile
from pytest_llmops.report.html import render_html
from pytest_llmops.report.json import SCHEMA_VERSION, build_report, read_baseline
from pytest_llmops.report.markdown import render_markdown
from pytest_llmops.report.terminal import terminal_lines
from pytest_llmops.settings import Settings

from .helpers import case

# As in test_fuzz.py (either module may run alone): thousands of examples under the fuzz profile.
settings.register_profile(
    "fuzz", max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
QUICK = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
EXAMPLES = settings.get_profile("fuzz") if os.environ.get("HYPOTHESIS_PROFILE") == "fuzz" else QUICK

#: Any JSON-ish value, the nasty numbers included.
NAN = float("nan")
NASTY_NUMBERS = st.sampled_from([NAN, float("inf"), -float("inf"), 10**400, -1, 1e308, True])
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20), NASTY_NUMBERS)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


@contextlib.contextmanager
def _tmp_file(name: str, data: str | bytes) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="llmops-fuzz-") as folder:
        path = Path(folder) / name
        if isinstance(data, bytes):
            path.write_bytes(data)
        else:
            path.write_text(data, encoding="utf-8", errors="surrogatepass")
        yield path


# --- lock files ---------------------------------------------------------------------------------

LOCK_ENTRY = st.fixed_dictionaries(
    {},
    optional={
        "file": VALUES,
        "sha256": st.one_of(st.just("0" * 64), VALUES),
        "variables": VALUES,
        "model": VALUES,
        "params": VALUES,
        "extra": VALUES,
    },
)
LOCK_DOCS = st.fixed_dictionaries(
    {},
    optional={
        "lock_version": st.one_of(st.just(1), VALUES),
        "prompts": st.one_of(
            st.dictionaries(
                st.text(max_size=8), st.dictionaries(st.text(max_size=8), LOCK_ENTRY, max_size=2), max_size=2
            ),
            VALUES,
        ),
    },
)


def _yaml(document: Any) -> str:
    try:
        return yaml.safe_dump(document, allow_unicode=True)
    except (yaml.YAMLError, ValueError, OverflowError):
        return "lock_version: 1\n"


@EXAMPLES
@given(text=st.one_of(LOCK_DOCS.map(_yaml), st.text(max_size=300), st.binary(max_size=100)))
@example(
    text="lock_version: 1\nprompts:\n  g:\n    1.0.0: {file: x, sha256: " + "0" * 64 + ", params: [abc]}\n"
)
@example(text="lock_version: 1\nprompts: " + "[" * 3000 + "]" * 3000 + "\n")
@example(text=b"\x89PNG\r\n\x1a\n\x00\xff")
@example(text="a: &a [*a, *a]\nb: &b [*a, *a, *a]\nc: [*b, *b, *b, *b]\n")
@example(text="lock_version: .nan\n")
def test_any_lock_file_is_read_or_one_clean_error(text: str | bytes) -> None:
    with _tmp_file("prompts.lock", text) as path:
        try:
            LockFile.read(path)
        except LockfileError as exc:
            assert str(path) in str(exc)
            event("refused")
        else:
            event("read")


# --- baselines ----------------------------------------------------------------------------------

REAL = case("a", score=0.8).to_dict()
FIELDS = sorted(REAL)


@st.composite
def reports(draw: st.DrawFn) -> str:
    entries = []
    for _ in range(draw(st.integers(0, 3))):
        entry = dict(REAL)
        for name in draw(st.lists(st.sampled_from(FIELDS), max_size=4)):
            entry[name] = draw(VALUES)
        entries.append(entry)
    version = draw(st.one_of(st.just(SCHEMA_VERSION), VALUES))
    document = {"schema_version": version, "cases": entries}
    return json.dumps(document, default=str)  # NaN and Infinity written as JSON's extension


@EXAMPLES
@given(text=st.one_of(reports(), st.text(max_size=200)))
@example(text=json.dumps({"schema_version": SCHEMA_VERSION, "cases": [{**REAL, "score": "0.9"}]}))
@example(text=json.dumps({"schema_version": SCHEMA_VERSION, "cases": [{**REAL, "score": NAN}]}))
@example(text=json.dumps({"schema_version": SCHEMA_VERSION, "cases": [REAL]}).replace("0.8", "1e999"))
@example(
    text=json.dumps({"schema_version": SCHEMA_VERSION, "cases": [REAL]}).replace("0.8", "1" + "0" * 5000)
)
@example(text=json.dumps({"schema_version": SCHEMA_VERSION, "cases": [{**REAL, "outcome": "maybe"}]}))
@example(text=json.dumps({"schema_version": SCHEMA_VERSION, "cases": [{**REAL, "usage": [1]}]}))
# Found by this property under the fuzz profile: a 400-digit cost, a number for the assertions.
@example(text=json.dumps({"schema_version": SCHEMA_VERSION, "cases": [{**REAL, "judge_cost_usd": 10**400}]}))
@example(text=json.dumps({"schema_version": SCHEMA_VERSION, "cases": [{**REAL, "assertions": 10**400}]}))
@example(text=json.dumps({"schema_version": SCHEMA_VERSION, "cases": [{**REAL, "tokens": {"input": "x"}}]}))
@example(text=json.dumps({"schema_version": SCHEMA_VERSION, "cases": [{**REAL, "id": None, "prompt": []}]}))
def test_any_baseline_is_read_or_one_clean_error_and_a_read_one_serves_every_report(text: str) -> None:
    with _tmp_file("baseline.json", text) as path:
        try:
            baseline = read_baseline(path)
        except ReportError as exc:
            assert str(path) in str(exc)
            event("refused")
            return
    event(f"read ({min(len(baseline), 2)}+ cases)")
    current = [case("a", score=0.7), case("b", outcome="failed", score=0.1)]
    evaluation = evaluate(current, Settings(), baseline)
    build_report(evaluation, created_at="2026-01-01T00:00:00+00:00")
    render_markdown(evaluation)
    list(terminal_lines(evaluation))
    render_html(build_report(evaluation, created_at="2026-01-01T00:00:00+00:00"))
