"""--llmops-changed-since follows the files a case reads: its data file, and every `file://` value
(variables, assertion values, `response_format`)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from pytest_llmops.testing import ScriptedLLMServer

from .helpers import write, write_prompt

DATA_SUITE = """
prompt: greeter
provider: {{id: openai:gpt-4o-mini, base_url: '{url}'}}
defaults: {{assert: [{{type: max-length, value: 500}}]}}
tests:
  - file://people.csv
  - name: inline
    vars: {{who: Zed}}
"""

FILE_SUITE = """
prompt: greeter
provider: {{id: openai:gpt-4o-mini, base_url: '{url}'}}
tests:
  - name: doc
    vars: {{who: file://docs/who.txt}}
    assert: [{{type: max-length, value: 500}}]
  - name: expected
    vars: {{who: Eve}}
    assert: [{{type: icontains, value: file://docs/expected.txt}}]
  - name: schema
    vars: {{who: Sam}}
    options: {{response_format: file://docs/format.json}}
    assert: [{{type: max-length, value: 500}}]
  - name: untouched
    vars: {{who: Uma}}
    assert: [{{type: max-length, value: 500}}]
"""


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True)


@pytest.fixture
def repo(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer, monkeypatch: pytest.MonkeyPatch
) -> pytest.Pytester:
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", "/dev/null")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    llmops_server.reply(lambda request: "Hello " + request["messages"][-1]["content"])
    root = pytester.path
    write_prompt(root)
    write(root / "people.csv", "who,__name\nAda,ada\nBob,bob\n")
    write(root / "docs" / "who.txt", "Dora")
    write(root / "docs" / "expected.txt", "eve")
    write(root / "docs" / "format.json", json.dumps({"type": "text"}))
    write(root / "test_data.llmops.yaml", DATA_SUITE.format(url=llmops_server.base_url))
    write(root / "test_files.llmops.yaml", FILE_SUITE.format(url=llmops_server.base_url))
    write(root / ".gitignore", ".pytest_cache/\n__pycache__/\n")
    pytester.runpytest("--llmops-record-mode=once").assert_outcomes(passed=7)
    git(root, "init", "-q")
    git(root, "config", "user.email", "test@example.com")
    git(root, "config", "user.name", "Test")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "base")
    git(root, "tag", "base")
    return pytester


def selected(pytester: pytest.Pytester) -> set[str]:
    result = pytester.runpytest("--collect-only", "-q", "--llmops-changed-since=base")
    return {line.split("::")[1].split("[")[0] for line in result.stdout.lines if ".llmops.yaml::" in line}


def test_nothing_changed_selects_nothing(repo: pytest.Pytester) -> None:
    assert selected(repo) == set()


def test_a_changed_data_file_selects_its_cases(repo: pytest.Pytester) -> None:
    write(repo.path / "people.csv", "who,__name\nAda,ada\nRobert,bob\n")
    assert selected(repo) == {"ada", "bob"}


@pytest.mark.parametrize(
    ("changed", "case"),
    [("docs/who.txt", "doc"), ("docs/expected.txt", "expected"), ("docs/format.json", "schema")],
)
def test_a_changed_file_value_selects_the_cases_that_read_it(
    repo: pytest.Pytester, changed: str, case: str
) -> None:
    path = repo.path / changed
    path.write_text(path.read_text() + " ")
    assert selected(repo) == {case}


def test_a_new_data_file_entry_selects_the_suites_data_cases(repo: pytest.Pytester) -> None:
    write(repo.path / "more.csv", "who,__name\nCy,cy\n")
    path = repo.path / "test_data.llmops.yaml"
    path.write_text(
        path.read_text().replace("  - file://people.csv\n", "  - file://people.csv\n  - file://more.csv\n")
    )
    assert selected(repo) == {"ada", "bob", "cy", "inline"}
