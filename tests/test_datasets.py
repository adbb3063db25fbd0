"""Cases come from data files (YAML, JSON, JSONL, promptfoo CSV), globs and mixed lists; names are optional
and stable; every mistake in a data file names the file and the row."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_llmops.engine.cases import derive_names
from pytest_llmops.engine.plan import load_suite
from pytest_llmops.engine.session import Session
from pytest_llmops.errors import SuiteError
from pytest_llmops.prompts.registry import PromptRegistry
from pytest_llmops.spec.datasets import assertion_from_string, iter_data_file
from pytest_llmops.testing import ScriptedLLMServer

from .helpers import write, write_prompt

HEADER = "prompt: greeter\nprovider: {{id: openai:gpt-4o-mini, base_url: '{url}'}}\n"


def plans(root: Path, suite: str) -> list[tuple[str, str, int]]:
    """(case name, where it is written, line) of each case of ``suite``, loaded without pytest."""
    path = write(root / "test_s.llmops.yaml", suite)
    registry = PromptRegistry.from_dir(root / "prompts")
    plan = load_suite(path, prompts=lambda _: registry, session=Session())
    return [(p.case, p.written_in.name, p.line) for p in plan.cases]


def load_error(root: Path, suite: str) -> str:
    with pytest.raises(SuiteError) as info:
        plans(root, suite)
    return str(info.value)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    write_prompt(tmp_path)
    return tmp_path


CSV = """\
who,__expected,__expected2,__description,__metric,__threshold
Ada,icontains: ada,"contains-any: Hello, Hi",greets Ada,greeting,0.5
Bob,Hello Bob!,,,,
"""


def test_every_format_loads_and_lists_mix_inline_cases_and_files(root: Path) -> None:
    write(root / "data" / "people.csv", CSV)
    write(
        root / "data" / "more.jsonl",
        '{"name": "carol", "vars": {"who": "Carol"}}\n\n{"vars": {"who": "Dan"}}\n',
    )
    write(root / "data" / "extra.json", json.dumps([{"description": "Erin's case", "vars": {"who": "Erin"}}]))
    write(
        root / "data" / "team.yaml", "test_cases:\n  - name: frank\n    prompt: hi\n    category: support\n"
    )
    suite = (
        "prompt: greeter\nprovider: openai:gpt-4o-mini\n"
        "defaults:\n  assert: [{type: max-length, value: 500}]\n"
        "tests:\n"
        "  - name: inline\n    vars: {who: Zed}\n"
        "  - file://data/*.csv\n"
        "  - file://data/more.jsonl\n"
        "  - file://data/extra.json\n"
        "test_cases: file://data/team.yaml\n"
    )
    found = plans(root, suite)
    names = [name for name, _, _ in found]
    assert names[0] == "inline"
    assert names[1] == "greets_Ada"  # from __description
    assert (
        names[2].startswith("people-") and len(names[2]) == len("people-") + 8
    )  # file stem + content digest
    assert names[3:] == ["carol", names[4], "Erin_s_case", "frank"]
    assert names[4].startswith("more-")
    # Each case says where it is written: its data file and the line of its row.
    assert found[1][1:] == ("people.csv", 2)
    assert found[2][1:] == ("people.csv", 3)
    assert found[4][1:] == ("more.jsonl", 3)
    assert found[6][1:] == ("team.yaml", 2)


def test_promptfoo_csv_columns_become_vars_assertions_and_case_fields(root: Path) -> None:
    path = write(root / "people.csv", CSV)
    ada, bob = [raw.data for raw in iter_data_file(path)]
    assert ada == {
        "description": "greets Ada",
        "threshold": 0.5,
        "vars": {"who": "Ada"},
        "assert": [
            {"type": "icontains", "value": "ada", "metric": "greeting"},
            {"type": "contains-any", "value": ["Hello", "Hi"], "metric": "greeting"},
        ],
    }
    assert bob == {"vars": {"who": "Bob"}, "assert": [{"type": "equals", "value": "Hello Bob!"}]}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("icontains: refund", {"type": "icontains", "value": "refund"}),
        ("not-contains: sorry", {"type": "not-contains", "value": "sorry"}),
        ("similar(0.8): the capital", {"type": "similar", "threshold": 0.8, "value": "the capital"}),
        ("levenshtein(3):Paris", {"type": "levenshtein", "threshold": 3.0, "value": "Paris"}),
        ("is-json", {"type": "is-json"}),
        ("grade: is polite", {"type": "llm-rubric", "value": "is polite"}),
        ("llm-rubric: is polite", {"type": "llm-rubric", "value": "is polite"}),
        ("python: len(output) < 9", {"type": "python", "value": "len(output) < 9"}),
        ("file://checks.py:ok", {"type": "python", "value": "file://checks.py:ok"}),
        ("fn: output.length < 9", {"type": "javascript", "value": "output.length < 9"}),
        ("Paris: the capital", {"type": "equals", "value": "Paris: the capital"}),  # not a type
        ("Hello world", {"type": "equals", "value": "Hello world"}),
    ],
)
def test_promptfoo_short_forms(text: str, expected: dict[str, object]) -> None:
    assert assertion_from_string(text) == expected


def test_the_background_documents_dataset_loads_unchanged(root: Path) -> None:
    source = Path(__file__).parent / "data" / "customer-support.yaml"
    write(root / "test_cases" / "customer-support.yaml", source.read_text(encoding="utf-8"))
    suite = (
        "prompt: greeter\nprovider: openai:gpt-4o-mini\ninput_var: who\n"
        "defaults:\n  assert: [{type: max-length, value: 600}]\n"
        "test_cases: file://test_cases/customer-support.yaml\n"
    )
    found = plans(root, suite)
    assert [name for name, _, _ in found] == [
        "login_issue",
        "refund_request",
        "feature_question",
        "pricing_inquiry",
    ]


def test_derived_names_are_stable_when_cases_are_reordered(root: Path) -> None:
    cases = [
        "  - vars: {who: A}\n",
        "  - vars: {who: B}\n",
        "  - description: same words\n    vars: {who: C}\n",
        "  - description: same words\n    vars: {who: D}\n",
    ]
    head = "prompt: greeter\nprovider: openai:gpt-4o-mini\ndefaults: {assert: [{type: max-length, value: 9}]}\ntests:\n"
    forward = {name for name, _, _ in plans(root, head + "".join(cases))}
    backward = {name for name, _, _ in plans(root, head + "".join(reversed(cases)))}
    assert forward == backward
    assert len(forward) == 4
    assert all(name.startswith("same_words-") for name in forward if name.startswith("same"))


def test_identical_cases_are_numbered_and_written_names_win() -> None:
    entries = [
        (None, None, {"vars": {"a": 1}}, "case"),
        (None, None, {"vars": {"a": 1}}, "case"),
        ("x", None, {}, "case"),
    ]
    first, second, written = derive_names(entries)
    assert second == f"{first}-2"
    assert written == "x"
    assert derive_names([(None, "x", {}, "case"), ("x", None, {}, "case")])[0].startswith("x-")


def test_a_written_name_used_twice_across_a_data_file_is_an_error(root: Path) -> None:
    write(root / "more.yaml", "- name: a\n  vars: {who: B}\n")
    message = load_error(
        root,
        "prompt: greeter\nprovider: openai:gpt-4o-mini\ndefaults: {assert: [{type: max-length, value: 9}]}\n"
        "tests:\n  - name: a\n    vars: {who: A}\n  - file://more.yaml\n",
    )
    assert "more.yaml:1: case name 'a' is used twice (first on line 5 of test_s.llmops.yaml)" in message


@pytest.mark.parametrize(
    ("name", "content", "phrases"),
    [
        (
            "bad.csv",
            "who,__expected\nAda,contains: a\nBob\n",
            ["bad.csv:3: row 2 has 1 values for 2 columns"],
        ),
        (
            "bad.csv",
            "who,__expcted\nAda,x\n",
            ["bad.csv:1: column '__expcted' is not one of the special columns"],
        ),
        ("bad.csv", "who,who\nA,B\n", ["column 'who' is named twice"]),
        ("bad.csv", "who,__threshold\nAda,high\n", ["bad.csv:2: row 1: __threshold must be a number"]),
        ("bad.csv", "", ["bad.csv:1: the CSV file is empty"]),
        ("bad.jsonl", '{"vars": {"who": "A"}}\n{"vars": \n', ["bad.jsonl:2: row 2: invalid JSON"]),
        (
            "bad.jsonl",
            '{"vars": {"who": "A"}, "asert": []}\n',
            ["row 1 of bad.jsonl", "bad.jsonl:1: unknown key 'asert'", "Did you mean 'assert'?"],
        ),
        ("bad.json", '[{"vars": {"who": "A"}},\n {"vars": 3}]', ["row 2 of bad.json", "bad.json:2: vars:"]),
        ("bad.json", '[{"vars": {}} {"vars": {}}]', ["bad.json:1: invalid JSON: expected ',' or ']'"]),
        ("bad.yaml", "- vars: {who: A}\n- threshold: 2\n", ["row 2 of bad.yaml", "bad.yaml:2: threshold:"]),
        (
            "bad.yaml",
            "cases: []\n",
            ["bad.yaml:1: a data file holds a list of cases, or a mapping with one `tests:`", "'cases'"],
        ),
        (
            "bad.yaml",
            "- file://other.csv\n",
            ["bad.yaml:1: row 1: a data file lists cases, not other data files"],
        ),
        ("bad.txt", "x", ["data file 'bad.txt': cases are read from .yaml, .yml, .json, .jsonl, .csv files"]),
    ],
)
def test_data_file_errors_name_the_file_and_the_row(
    root: Path, name: str, content: str, phrases: list[str]
) -> None:
    write(root / name, content) if content or name.endswith(".csv") else None
    (root / name).write_text(content, encoding="utf-8")
    message = load_error(
        root,
        "prompt: greeter\nprovider: openai:gpt-4o-mini\ndefaults: {assert: [{type: max-length, value: 9}]}\n"
        f"tests: file://{name}\n",
    )
    for phrase in phrases:
        assert phrase in message, message


def test_missing_files_and_empty_globs_point_at_the_suite(root: Path) -> None:
    head = (
        "prompt: greeter\nprovider: openai:gpt-4o-mini\ndefaults: {assert: [{type: max-length, value: 9}]}\n"
    )
    assert "test_s.llmops.yaml:4: data file 'nope.csv' not found" in load_error(
        root, head + "tests: file://nope.csv\n"
    )
    assert "test_s.llmops.yaml:5: data file glob 'file://d/*.csv' matches no file" in load_error(
        root, head + "tests:\n  - file://d/*.csv\n"
    )
    assert "a data file is written `file://cases.csv`" in load_error(root, head + "tests: cases.csv\n")


def test_an_unknown_assertion_in_a_csv_row_names_the_row(root: Path) -> None:
    write(root / "rows.csv", "who,__expected\nAda,fn: output.length > 2\n")
    message = load_error(root, "prompt: greeter\nprovider: openai:gpt-4o-mini\ntests: file://rows.csv\n")
    assert "rows.csv:2: case 'rows-" in message
    assert "unknown assertion type 'javascript'. pytest-llmops runs Python, not JavaScript" in message


def test_file_values_are_read_relative_to_the_suite(root: Path) -> None:
    write(root / "docs" / "policy.txt", "Refunds within 30 days.")
    write(root / "docs" / "facts.json", '{"plan": "Pro"}')
    write(root / "docs" / "facts.yaml", "plan: Team\n")
    write(root / "expected.txt", "Refunds")
    path = write(
        root / "test_s.llmops.yaml",
        "prompt: greeter\nprovider: openai:gpt-4o-mini\n"
        "vars: {policy: file://docs/policy.txt}\n"
        "tests:\n  - name: a\n    vars: {who: A, facts: file://docs/facts.json, more: file://docs/facts.yaml}\n"
        "    assert: [{type: contains, value: file://expected.txt}]\n",
    )
    registry = PromptRegistry.from_dir(root / "prompts")
    (plan,) = load_suite(path, prompts=lambda _: registry, session=Session()).cases
    assert plan.vars["policy"] == "Refunds within 30 days."
    assert plan.vars["facts"] == {"plan": "Pro"}
    assert plan.vars["more"] == {"plan": "Team"}
    assert plan.assertions[0].spec.value == "Refunds"
    assert {p.name for p in plan.files} == {"policy.txt", "facts.json", "facts.yaml", "expected.txt"}


def test_a_missing_file_value_names_the_variable(root: Path) -> None:
    message = load_error(
        root,
        "prompt: greeter\nprovider: openai:gpt-4o-mini\n"
        "tests:\n  - name: a\n    vars: {who: file://who.txt}\n    assert: [{type: max-length, value: 9}]\n",
    )
    assert "test_s.llmops.yaml:4: case 'a': variable 'who': file 'who.txt' not found" in message


def test_a_large_csv_streams_row_by_row(tmp_path: Path) -> None:
    """The loader reads a row when it is asked for: the first case arrives before the file is read."""
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8") as handle:
        handle.write("who,__expected\n")
        for index in range(20_000):
            handle.write(f"person{index},contains: {index}\n")
    rows = iter_data_file(path)
    first = next(rows)
    assert first.data["vars"] == {"who": "person0"}
    with path.open("a", encoding="utf-8") as handle:  # appended after the first row was read
        handle.write("late,contains: late\n")
    assert sum(1 for _ in rows) == 20_000  # the rest, and the appended row: read as it came


def test_a_data_file_suite_runs_end_to_end(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer
) -> None:
    llmops_server.reply(lambda request: "Hello " + request["messages"][-1]["content"].split()[-1])
    write_prompt(pytester.path)
    write(pytester.path / "people.csv", "who,__expected\nAda.,icontains: ada\nBob.,not-icontains: ada\n")
    write(
        pytester.path / "test_data.llmops.yaml",
        HEADER.format(url=llmops_server.base_url) + "tests: file://people.csv\n",
    )
    result = pytester.runpytest("--llmops-record-mode=once", "-v")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*test_data.llmops.yaml::people-*greeter@1.0.0-openai:gpt-4o-mini* PASSED*"])
    pytester.runpytest().assert_outcomes(passed=2)  # replayed: the same names find their cassettes


def test_a_failing_data_file_case_shows_where_its_row_is(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer
) -> None:
    llmops_server.reply("Hello")
    write_prompt(pytester.path)
    write(pytester.path / "people.csv", "who,__expected,__description\nAda,icontains: zzz,ada case\n")
    write(
        pytester.path / "test_data.llmops.yaml",
        HEADER.format(url=llmops_server.base_url) + "tests: file://people.csv\n",
    )
    result = pytester.runpytest("--llmops-record-mode=once")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*people.csv:2*"])
