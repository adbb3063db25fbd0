"""Only finite numbers are read from files: NaN and infinities are refused with file and field.

Suites already refuse them (``test_strict_input.py``). Here: price entries (a suite's ``price:``
or ``llmops_prices``), the facts a cassette stores (latency, time to first token) and the
figures of a baseline or shard report (scores, costs, latencies, token counts). A NaN latency
once crashed the report writer; a NaN or 1e999 score in a baseline crashed the gates.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pytest

from pytest_llmops.engine.pricing import parse_price
from pytest_llmops.errors import ReportError, SuiteError
from pytest_llmops.report.json import SCHEMA_VERSION, read_baseline
from pytest_llmops.testing import ScriptedLLMServer

from .helpers import make_suite


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, "1e999", "nan"])
def test_a_price_that_is_not_finite_is_refused_naming_the_key(value: Any) -> None:
    with pytest.raises(SuiteError, match=r"`output` is .*a price must be a finite number"):
        parse_price({"input": 0.15, "output": value}, "provider 'openai:x' price")


def test_a_price_of_true_is_not_a_number() -> None:
    with pytest.raises(SuiteError, match="prices must be numbers"):
        parse_price({"input": True, "output": 1}, "price")


def _report(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "baseline.json"
    path.write_text(text, encoding="utf-8")
    return path


def _case_json(**figures: str) -> str:
    entry = {"id": "s.llmops.yaml::a[p@1.0.0-openai:m]", "suite": "s.llmops.yaml", "case": "a"}
    entry.update({"outcome": "passed", "prompt": "p", "prompt_version": "1.0.0", "provider": "openai:m"})
    text = json.dumps(entry)[:-1]
    for name, raw in figures.items():
        text += f', "{name}": {raw}'
    return f'{{"schema_version": {SCHEMA_VERSION}, "cases": [{text}}}]}}'


@pytest.mark.parametrize(
    ("figures", "field"),
    [
        ({"score": "NaN"}, "score"),
        ({"score": "1e999"}, "score"),
        ({"score": '"0.9"'}, "score"),
        ({"cost_usd": "-Infinity"}, "cost_usd"),
        ({"latency_ms": "true"}, "latency_ms"),
        ({"tokens": '{"input": -5, "output": 1}'}, "tokens.input"),
        ({"judge_cost_usd": "1" + "0" * 400}, "judge_cost_usd"),
        ({"assertions": "7"}, "assertions"),
        (
            {"assertions": '[{"type": "contains", "passed": true, "score": NaN, "reason": ""}]'},
            "assertions[0].score",
        ),
    ],
)
def test_a_baseline_figure_that_is_not_finite_is_refused_naming_file_and_field(
    tmp_path: Path, figures: dict[str, str], field: str
) -> None:
    path = _report(tmp_path, _case_json(**figures))
    with pytest.raises(ReportError) as info:
        read_baseline(path)
    message = str(info.value)
    assert "baseline.json" in message and f"`{field}`" in message and "case 1" in message


@pytest.mark.parametrize(
    "text",
    [
        _case_json(score="1" + "0" * 5000),
        "[" * 100_000 + "]" * 100_000,
        '{"schema_version": 1, "cases": [1]}',
    ],
    ids=["5000-digit", "deep", "not-an-object"],
)
def test_a_malformed_baseline_is_one_clean_error(tmp_path: Path, text: str) -> None:
    with pytest.raises(ReportError, match=r"baseline\.json"):
        read_baseline(_report(tmp_path, text))


def test_a_baseline_with_nan_stops_the_run_as_a_usage_error(pytester: pytest.Pytester) -> None:
    _report(pytester.path, _case_json(score="NaN"))
    result = pytester.runpytest("--llmops-baseline=baseline.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "Traceback" not in result.stderr.str()
    result.stderr.fnmatch_lines(["*baseline.json*case 1*`score` is nan; expected a finite number or null*"])


@pytest.mark.parametrize("value", [".nan", ".inf", "-1.0"])
def test_a_cassette_latency_that_is_not_finite_fails_its_case_naming_the_file(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer, value: str
) -> None:
    llmops_server.reply("Hello, Ada!")
    make_suite(
        pytester.path,
        llmops_server,
        "  - {name: a, vars: {who: Ada}, assert: [{type: contains, value: Ada}]}\n",
    )
    pytester.runpytest("-p", "no:cacheprovider", "--llmops-record-mode=all").assert_outcomes(passed=1)
    (cassette,) = (pytester.path / "cassettes").rglob("*.yaml")
    text, edits = re.subn(
        r"latency_ms: [0-9.e+-]+", f"latency_ms: {value}", cassette.read_text(encoding="utf-8")
    )
    assert edits == 1
    cassette.write_text(text, encoding="utf-8")
    result = pytester.runpytest(
        "-p", "no:cacheprovider", "--llmops-record-mode=none", "--llmops-report=r.json"
    )
    out = result.stdout.str()
    assert "INTERNALERROR" not in out and "Traceback" not in out
    result.assert_outcomes(failed=1)
    assert cassette.name in out and "`response.llmops.latency_ms`" in out
    report = json.loads((pytester.path / "r.json").read_text(encoding="utf-8"))
    assert [c["outcome"] for c in report["cases"]] == ["error"]
