"""`python -m pytest_llmops import-promptfoo` turns the nine promptfoo example shapes into suites that
record against the scripted server and replay offline; what has no equivalent is a failing stub
that says so, never a silent pass."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pytest_llmops.importer import import_promptfoo, main
from pytest_llmops.importer.javascript import JavaScriptError, translate
from pytest_llmops.testing import ScriptedLLMServer

from .helpers import PROMPTFOO_EXAMPLES, promptfoo_example_reply, write

CONFIGS = Path(__file__).parent / "data" / "promptfoo"
#: What each imported example does when recorded and replayed: every case passes, except the
#: one whose scoring function was JavaScript (its stub fails until someone writes it).
OUTCOMES = {
    "getting-started": {"passed": 12},
    "json-output": {"passed": 2},
    "simple-csv": {"passed": 6},
    "self-grading": {"passed": 3},
    "claude-vs-gpt": {"passed": 4},
    "python-provider": {"passed": 2},
    "openai-structured-output": {"passed": 2},
    "g-eval": {"passed": 2},
    "assertion-scoring-override": {"passed": 1, "failed": 1},
}


@pytest.mark.parametrize("example", PROMPTFOO_EXAMPLES)
def test_each_example_imports_records_and_replays(
    example: str,
    pytester: pytest.Pytester,
    llmops_server: ScriptedLLMServer,
    fake_keys: object,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main([str(CONFIGS / example / "promptfooconfig.yaml"), f"--out={pytester.path}", "--force"]) == 0
    assert "wrote" in capsys.readouterr().out
    llmops_server.reply(promptfoo_example_reply)
    monkeypatch.setenv("OPENAI_BASE_URL", llmops_server.base_url)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", llmops_server.root_url)
    pytester.runpytest("--llmops-record-mode=once").assert_outcomes(**OUTCOMES[example])
    for name in ("OPENAI_BASE_URL", "ANTHROPIC_BASE_URL", "OPENAI_API_KEY", "ANTHROPIC_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    pytester.runpytest().assert_outcomes(**OUTCOMES[example])  # replayed offline


def test_a_javascript_scoring_function_is_a_failing_stub_that_keeps_the_code(tmp_path: Path) -> None:
    imported = import_promptfoo(CONFIGS / "assertion-scoring-override" / "promptfooconfig.yaml", tmp_path)
    checks = (tmp_path / "checks.py").read_text()
    assert "NOT TRANSLATED: promptfoo scoring function" in checks
    assert "#     const score = namedScores.accuracy ?? 0;" in checks  # the original, as a comment
    assert '"pass": False' in checks
    assert imported.report.untranslated == [
        "tests[1].assertScoringFunction: scoring function has no equivalent; wrote a failing stub checks.py:scoring_1"
    ]
    suite = yaml.safe_load((tmp_path / "test_assertion_scoring_override.llmops.yaml").read_text())
    assert suite["defaults"] == {"scoring": "scoring.py:weighted_score"}
    assert suite["tests"][1]["scoring"] == "checks.py:scoring_1"
    assert suite["tests"][0]["assert"][1] == {
        "type": "python",
        "value": "len(output) < 100",
        "metric": "brevity",
    }


def test_untranslatable_javascript_becomes_a_failing_stub(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(
        tmp_path / "promptfooconfig.yaml",
        """
        prompts: ["Hi {{name}}"]
        providers: [openai:chat:gpt-4o-mini]
        tests:
          - vars: {name: Ada}
            assert:
              - type: javascript
                value: |
                  const words = output.split(' ');
                  return words.length > 1;
              - type: is-xml
        """,
    )
    out = tmp_path / "out"
    assert main([str(tmp_path / "promptfooconfig.yaml"), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "could not translate (2)" in printed
    assert (
        "tests[0].assert[0]: javascript (only a single expression is translated) has no equivalent" in printed
    )
    assert "tests[0].assert[1]: assertion type 'is-xml' has no equivalent" in printed
    checks = (out / "checks.py").read_text()
    assert "#   const words = output.split(' ');" in checks
    namespace: dict[str, object] = {}
    exec(compile(checks, "checks.py", "exec"), namespace)  # the stubs fail: nothing passes unwritten
    assert namespace["check_1"]("a b c", {}) == {  # type: ignore[operator]
        "pass": False,
        "score": 0.0,
        "reason": "not translated from JavaScript yet",
    }
    suite = next(out.glob("test_*.llmops.yaml")).read_text()
    assert "provider: openai:gpt-4o-mini" in suite  # promptfoo's id, in ours
    assert "# Not translated:" in suite


def test_a_csv_that_needs_no_change_is_copied_as_it_is(tmp_path: Path) -> None:
    write(tmp_path / "tests.csv", "topic,__expected\nbananas,icontains: banana\n")
    write(
        tmp_path / "promptfooconfig.yaml",
        "prompts: ['About {{topic}}']\nproviders: [openai:gpt-4o-mini]\ntests: file://tests.csv\n",
    )
    import_promptfoo(tmp_path / "promptfooconfig.yaml", tmp_path / "out")
    assert (tmp_path / "out" / "tests.csv").read_text() == (tmp_path / "tests.csv").read_text()
    suite = yaml.safe_load(next((tmp_path / "out").glob("test_*.llmops.yaml")).read_text())
    assert suite["tests"] == ["file://tests.csv"]


def test_keys_are_never_written_and_list_vars_expand(tmp_path: Path) -> None:
    write(
        tmp_path / "promptfooconfig.yaml",
        """
        prompts: ["About {{topic}} in {{lang}}"]
        providers:
          - id: openai:gpt-4o-mini
            config: {apiKey: sk-live-should-never-be-copied, temperature: 0.2, apiBaseUrl: "http://127.0.0.1:9"}
        tests:
          - vars: {topic: [cats, dogs], lang: [en, fr]}
            assert: [{type: contains, value: a}]
        """,
    )
    imported = import_promptfoo(tmp_path / "promptfooconfig.yaml", tmp_path / "out")
    text = next((tmp_path / "out").glob("test_*.llmops.yaml")).read_text()
    assert "sk-live" not in text
    suite = yaml.safe_load(text)
    assert suite["provider"] == {
        "id": "openai:gpt-4o-mini",
        "temperature": 0.2,
        "base_url": "http://127.0.0.1:9",
    }
    assert [c["vars"] for c in suite["tests"]] == [
        {"topic": "cats", "lang": "en"}, {"topic": "cats", "lang": "fr"},
        {"topic": "dogs", "lang": "en"}, {"topic": "dogs", "lang": "fr"},
    ]  # fmt: skip
    assert any("`apiKey` is not written" in n for n in imported.report.notes)


def test_the_command_refuses_a_folder_that_is_not_empty(tmp_path: Path) -> None:
    write(tmp_path / "out" / "keep.txt", "mine")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest_llmops",
            "import-promptfoo",
            str(CONFIGS / "g-eval" / "promptfooconfig.yaml"),
            f"--out={tmp_path / 'out'}",
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert "is not empty; choose another --out, or pass --force" in done.stderr
    assert (tmp_path / "out" / "keep.txt").read_text() == "mine"


@pytest.mark.parametrize(
    ("javascript", "python"),
    [
        ("output.length < 200", "len(output) < 200"),
        ("JSON.parse(output).color === 'yellow'", "json.loads(output)['color'] == 'yellow'"),
        ("/refund/i.test(output)", "re.search('refund', output, re.IGNORECASE) is not None"),
        ("output.toLowerCase().includes('bonjour')", "'bonjour' in output.lower()"),
        (
            "!output.includes('AI') && output.trim().endsWith('.')",
            "not 'AI' in output and output.strip().endswith('.')",
        ),
        ("context.vars.topic.length > 0", "len(context['vars']['topic']) > 0"),
        ("output.items.every(i => i.price > 0)", "all((i['price'] > 0 for i in output['items']))"),
        ("return output.split(' ').length <= 30;", "len(output.split(' ')) <= 30"),
        ("output.startsWith('Hi') ? 1 : 0", "1 if output.startswith('Hi') else 0"),
        ("output.score ?? 0", "output['score'] if output['score'] is not None else 0"),
    ],
)
def test_one_line_javascript_translates(javascript: str, python: str) -> None:
    assert translate(javascript) == python


@pytest.mark.parametrize(
    "javascript",
    [
        "const x = 1; return x",
        "typeof output === 'string'",
        "`${output}`",
        "fetch('http://x')",
        "output.x(() => { return 1 })",
    ],
)
def test_javascript_that_would_change_meaning_is_not_translated(javascript: str) -> None:
    with pytest.raises(JavaScriptError):
        translate(javascript)


def test_the_import_reads_structured_output_as_promptfoo_does(tmp_path: Path) -> None:
    imported = import_promptfoo(CONFIGS / "openai-structured-output" / "promptfooconfig.yaml", tmp_path)
    suite = yaml.safe_load(next(tmp_path.glob("test_*.llmops.yaml")).read_text())
    assert suite["defaults"]["transform"] == "json.loads(output)"
    assert suite["provider"] == {"id": "openai:gpt-4o-mini", "response_format": "file://schema.json"}
    assert json.loads((tmp_path / "schema.json").read_text())["type"] == "json_schema"
    assert any("structured output" in n for n in imported.report.notes)
