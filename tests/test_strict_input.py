"""What users and files write is read strictly: nothing is dropped silently, nothing runs unbounded.

- A key written twice in one YAML mapping is an error naming both lines (YAML keeps the last).
- A tag named after one of pytest's own marks is refused (it would skip or xfail silently).
- NaN and infinities are refused at collection, naming the file and field.
- Aliases may not multiply a document far beyond what was written; a large suite without them loads.
- A template that would render without bound fails its case with the bound it hit.
- Reports and cassettes are written to regular files only: never over a link, FIFO or device.
- A malformed prompt lock file is one clean error naming the file.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from pytest_llmops.errors import LockfileError, SuiteError
from pytest_llmops.fileio import NotARegularFileError, atomic_write_text
from pytest_llmops.prompts.lockfile import LockFile
from pytest_llmops.prompts.render import RenderLimitError, render_template
from pytest_llmops.spec.yamlio import load_yaml
from pytest_llmops.testing import ScriptedLLMServer

from .helpers import glob_escape, write, write_prompt

# --- duplicate keys ------------------------------------------------------------------------------


def test_a_second_tests_block_is_an_error_naming_both_lines(pytester: pytest.Pytester) -> None:
    write_prompt(pytester.path)
    write(
        pytester.path / "test_dup.llmops.yaml",
        """
        prompt: greeter
        provider: openai:gpt-4o-mini
        tests:
          - {name: a, vars: {who: A}, assert: [{type: contains, value: A}]}
        tests:
          - {name: b, vars: {who: B}, assert: [{type: contains, value: B}]}
        """,
    )
    result = pytester.runpytest("--collect-only")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "test_dup.llmops.yaml:5: invalid YAML: key 'tests' is written twice in one mapping (lines 3 and 5);"
            " YAML would keep only the second: merge the two, or rename one"
        ]
    )


def test_a_prompt_file_with_two_user_keys_is_an_error() -> None:
    with pytest.raises(
        SuiteError, match=r"p.yaml:4: .*key 'user' is written twice in one mapping \(lines 3 and 4\)"
    ):
        load_yaml("name: p\nversion: 1.0.0\nuser: Hi\nuser: Hello\n", "p.yaml")


def test_keys_repeated_in_one_flow_mapping_and_merge_keys() -> None:
    with pytest.raises(SuiteError, match=r"key 'x' is written twice in one mapping \(line 1\)"):
        load_yaml("a: {x: 1, x: 2}\n", "f.yaml")
    data, _ = load_yaml("base: &b {a: 1}\nother: &o {b: 2}\nc:\n  <<: *b\n  <<: *o\n", "f.yaml")
    assert data["c"] == {"a": 1, "b": 2}  # merge keys may repeat


# --- tags and numbers ----------------------------------------------------------------------------


@pytest.mark.parametrize("tag", ["skip", "skipif", "xfail", "parametrize", "usefixtures", "filterwarnings"])
def test_a_tag_named_after_a_pytest_mark_is_refused(pytester: pytest.Pytester, tag: str) -> None:
    write(
        pytester.path / "test_tags.llmops.yaml",
        f"provider: openai:gpt-4o-mini\ntests:\n  - {{name: a, prompt: hi, tags: [{tag}], assert: [{{type: contains, value: x}}]}}\n",
    )
    result = pytester.runpytest("--collect-only")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [f"*test_tags.llmops.yaml:3: tests[[]0[]]: tag {tag!r} is one of pytest's own marks*"]
    )


@pytest.mark.parametrize(
    ("field", "where"),
    [
        ("weight: .inf", "tests[0].assert[0].weight"),
        ("weight: .nan", "tests[0].assert[0].weight"),
        ("threshold: .nan", "tests[0].assert[0].threshold"),
        ("min: -.inf", "tests[0].assert[0].min"),
    ],
)
def test_nan_and_infinities_are_refused_naming_the_field(
    pytester: pytest.Pytester, field: str, where: str
) -> None:
    write(
        pytester.path / "test_num.llmops.yaml",
        f"provider: openai:gpt-4o-mini\ntests:\n  - name: a\n    prompt: hi\n    assert:\n      - {{type: contains, value: x, {field}}}\n",
    )
    result = pytester.runpytest("--collect-only")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [f"*test_num.llmops.yaml:6: {glob_escape(where)}: Input should be a finite number*"]
    )


# --- aliases -------------------------------------------------------------------------------------


def test_an_alias_bomb_is_refused_before_it_is_walked() -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    )
    with pytest.raises(SuiteError, match=r"the document expands to more than \d+ values \(aliases\?\)"):
        load_yaml(bomb + "tests: *i\n", "bomb.yaml")


def test_defaults_reused_through_aliases_in_every_case_load() -> None:
    text = "defaults: &d {assert: [{type: contains, value: x}], tags: [t]}\ntests:\n" + "".join(
        f"  - {{name: c{i}, <<: *d}}\n" for i in range(2000)
    )
    data, _ = load_yaml(text, "reuse.yaml")
    assert len(data["tests"]) == 2000 and data["tests"][-1]["tags"] == ["t"]


def test_a_document_of_200000_values_without_aliases_loads() -> None:
    # The old limit refused any document past 200,000 values, aliases or not.
    data, lines = load_yaml("tests:\n" + "  - x\n" * 200_001, "big.yaml")
    assert len(data["tests"]) == 200_001
    assert lines.line(("tests", 200_000)) == 200_002


# --- rendering -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ 'x' * 10**9 }}", "repetition with * would build 1000000000 characters"),
        ("{{ range(100000000)|list|length }}", "range() of 100000000 items"),
        ("{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}", "recurses without end"),
        (
            "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
            "ranges of this template",
        ),
        ("{% for i in range(2000) %}{{ 'x' * 1000 }}{% endfor %}", "renders to more than 1000000 characters"),
        ("{{ 'a'|center(10**9) }}", "center() would build"),
        ("{{ 9**999999 }}", "the power **"),
    ],
)
def test_a_template_that_would_run_without_bound_stops_at_its_bound(template: str, message: str) -> None:
    with pytest.raises(
        RenderLimitError, match=message.replace("*", r"\*").replace("(", r"\(").replace(")", r"\)")
    ):
        render_template(template, {})


def test_a_runaway_template_fails_its_case_and_the_case_is_reported(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer
) -> None:
    write_prompt(pytester.path, user="{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(who) }}")
    write_prompt(pytester.path, name="fine", user="Say hello to {{ who }}.")
    write(
        pytester.path / "test_render.llmops.yaml",
        f"prompt: [greeter, fine]\nprovider:\n  id: openai:gpt-4o-mini\n  base_url: {llmops_server.base_url}\n"
        "tests:\n  - {name: a, vars: {who: A}, assert: [{type: contains, value: A}]}\n",
    )
    llmops_server.reply("Hello, A!")
    result = pytester.runpytest("--llmops-record-mode=once", "--llmops-report=report.json")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*the user template failed: the template recurses without end*"])
    assert "Traceback" not in result.stdout.str()
    assert '"outcome": "error"' in (pytester.path / "report.json").read_text()


# --- writes --------------------------------------------------------------------------------------


def test_only_regular_files_are_written(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    target = tmp_path / "keep.txt"
    target.write_text("untouched")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    for path, kind in ((fifo, r"a FIFO \(named pipe\)"), (link, "a symbolic link"), (tmp_path, "a folder")):
        with pytest.raises(NotARegularFileError, match=f"is {kind}; only regular files are written"):
            atomic_write_text(path, "new")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and link.is_symlink() and target.read_text() == "untouched"
    atomic_write_text(tmp_path / "fresh.json", "ok")
    assert (tmp_path / "fresh.json").read_text() == "ok"


def test_a_report_path_that_is_a_fifo_is_refused_not_replaced(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer
) -> None:
    llmops_server.reply("Hello, A!")
    write_prompt(pytester.path)
    write(
        pytester.path / "test_w.llmops.yaml",
        f"prompt: greeter\nprovider:\n  id: openai:gpt-4o-mini\n  base_url: {llmops_server.base_url}\n"
        "tests:\n  - {name: a, vars: {who: A}, assert: [{type: contains, value: A}]}\n",
    )
    os.mkfifo(pytester.path / "report.json")
    result = pytester.runpytest("--llmops-record-mode=once", "--llmops-report=report.json")
    result.stdout.fnmatch_lines(["*could not write JSON report*report.json is a FIFO (named pipe)*"])
    assert stat.S_ISFIFO(os.lstat(pytester.path / "report.json").st_mode)


# --- lock files ----------------------------------------------------------------------------------

LOCK_HEAD = "lock_version: 1\nprompts:\n  greeter:\n    1.0.0:\n      file: prompts/greeter.yaml\n"
SHA = "sha256: " + "0" * 64 + "\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            LOCK_HEAD + "      " + SHA + "      params: [abc]\n",
            "prompts.greeter.1.0.0.params: Input should be a valid dictionary",
        ),
        (LOCK_HEAD + "      sha256: nothex\n", "prompts.greeter.1.0.0.sha256: String should match pattern"),
        (
            LOCK_HEAD + "      " + SHA + "      variables: " + "[" * 3000 + "]" * 3000 + "\n",
            "exceeded maximum nesting depth",
        ),
        ("lock_version: 1\nprompts: [a]\n", "prompts: Input should be a valid dictionary"),
        ("lock_version: 2\n", "lock format 2 is not supported"),
        (LOCK_HEAD + "      " + SHA + "      " + SHA, "key 'sha256' is written twice"),
        (
            "prompts:\n  greeter:\n    1.0.0: {file: x, " + SHA.replace("\n", "") + ", extra: 1}\n",
            "unknown key 'extra'",
        ),
    ],
)
def test_a_malformed_lock_file_is_one_clean_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "prompts.lock"
    path.write_text(text)
    with pytest.raises(LockfileError, match=message.replace("[", r"\[").replace("]", r"\]")) as raised:
        LockFile.read(path)
    assert str(path) in str(raised.value) and "--llmops-update-lock" in str(raised.value)


def test_a_lock_file_of_binary_content_is_a_clean_error(tmp_path: Path) -> None:
    path = tmp_path / "prompts.lock"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff")
    with pytest.raises(LockfileError, match="not UTF-8 text"):
        LockFile.read(path)
