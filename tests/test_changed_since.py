"""--llmops-changed-since and --llmops-diff on a real git repository built with pytester."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from pytest_llmops.plugin.review import _read_any
from pytest_llmops.report.json import report_schema
from pytest_llmops.review.git import GitRepo
from pytest_llmops.review.model import Review
from pytest_llmops.review.render import render_review_markdown
from pytest_llmops.testing import ScriptedLLMServer

from .helpers import write, write_prompt

SUITE_A = """
prompt: greeter@1.0.0
provider: {{id: openai:gpt-4o-mini, base_url: {url}}}
tests:
  - name: alice
    vars: {{who: Alice}}
    assert: [{{type: icontains, value: alice}}]
  - name: bob
    vars: {{who: Bob}}
    assert: [{{type: icontains, value: bob}}]
"""

# In a subfolder: it shares greeter through the parent's prompts/ folder.
SUITE_B = """
prompt: greeter@^1
provider: {{id: openai:gpt-4o-mini, base_url: {url}}}
tests:
  - name: carol
    vars: {{who: Carol}}
    assert: [{{type: icontains, value: carol}}]
"""

SUITE_C = """
prompt: farewell
provider: {{id: openai:gpt-4o-mini, base_url: {url}}}
vars: {{who: Dave}}
tests:
  - name: dave
    assert: [{{type: python, value: "checks.py:mentions_dave"}}]
  - name: erin
    assert: [{{type: icontains, value: dave}}]
"""

SUITE_D = """
provider: {{id: openai:gpt-4o-mini, base_url: {url}}}
tests:
  - name: frank
    prompt: Answer in JSON for Frank
    assert: [{{type: json-schema, value: schemas/reply.json}}]
"""

CHECKS = """
def mentions_dave(output, ctx):
    return "dave" in output.lower()
"""

SCHEMA = {"type": "object", "required": ["greeting"]}

# Hands the run's review data to the test (under xdist too: the controller has it).
DUMP_REVIEW = """
import json

def pytest_unconfigure(config):
    review = config.pluginmanager.get_plugin("llmops-review")
    if review is not None and not hasattr(config, "workerinput"):
        with open("review.json", "w") as handle:
            data = review.review()
            json.dump(data.to_dict() if data is not None else None, handle)
"""

ALL = {"alice", "bob", "carol", "dave", "erin", "frank"}


def git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True)
    return done.stdout


def answer(request: dict[str, Any]) -> str:
    text = request["messages"][-1]["content"]
    if "JSON" in text:
        return json.dumps({"greeting": "Hi Frank"})
    if text.startswith("Wave"):
        return "Waves."
    return f"Hello, {text.split()[-1].rstrip('.')}!"


@pytest.fixture
def repo(
    pytester: pytest.Pytester,
    llmops_server: ScriptedLLMServer,
    fake_keys: object,
    monkeypatch: pytest.MonkeyPatch,
) -> pytest.Pytester:
    """Four suites with cassettes, committed and tagged `base`."""
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", "/dev/null")  # no hooks, signing or excludes of the host
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    llmops_server.reply(answer)
    root = pytester.path
    url = llmops_server.base_url
    write_prompt(root)
    write_prompt(root, name="farewell", version="1.0.0", user="Say goodbye to {{ who }}.")
    write_prompt(root, name="farewell", version="1.1.0", user="Say bye to {{ who }}.")
    write(root / "test_a.llmops.yaml", SUITE_A.format(url=url))
    write(root / "sub" / "test_b.llmops.yaml", SUITE_B.format(url=url))
    write(root / "test_c.llmops.yaml", SUITE_C.format(url=url))
    write(root / "test_d.llmops.yaml", SUITE_D.format(url=url))
    write(root / "checks.py", CHECKS)
    write(root / "schemas" / "reply.json", json.dumps(SCHEMA))
    write(root / "test_plain.py", "def test_plain():\n    pass\n")
    write(root / ".gitignore", ".pytest_cache/\n__pycache__/\n")
    pytester.runpytest("--llmops-record-mode=once").assert_outcomes(passed=7)
    git(root, "init", "-q")
    git(root, "config", "user.email", "test@example.com")
    git(root, "config", "user.name", "Test")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "base")
    git(root, "tag", "base")
    return pytester


def selected(pytester: pytest.Pytester, *args: str) -> set[str]:
    """The case names collected with --llmops-changed-since base."""
    result = pytester.runpytest("--collect-only", "-q", "--llmops-changed-since=base", *args)
    assert result.ret in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED), result.stdout.str()
    names = {line.split("::")[1].split("[")[0] for line in result.stdout.lines if ".llmops.yaml::" in line}
    assert "test_plain.py::test_plain" in result.stdout.lines, "python tests are never deselected"
    deselected = len(ALL) - len(names)
    if deselected:
        result.stdout.fnmatch_lines(
            [f"*{len(names) + 1}/{len(ALL) + 1} tests collected ({deselected} deselected)*"]
        )
    return names


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))


def test_nothing_changed_deselects_every_case_and_succeeds(repo: pytest.Pytester) -> None:
    assert selected(repo) == set()
    result = repo.runpytest("--llmops-changed-since=base")
    result.assert_outcomes(passed=1, deselected=6)
    result.stdout.fnmatch_lines(["llmops: cases affected by changes since base (*): 0 changed file(s)"])
    # Nothing to run is a pass for a pull request, not pytest's exit 5.
    result = repo.runpytest("--llmops-changed-since=base", "-m", "llmops")
    result.assert_outcomes(deselected=7)
    assert result.ret == pytest.ExitCode.OK


Scenario = Callable[[Path], None]


def wording(root: Path) -> None:
    write_prompt(root, user="Please say hello to {{ who }}.")


def case_entry(root: Path) -> None:
    edit(root / "test_a.llmops.yaml", "{who: Bob}", "{who: Robert}")


def suite_level(root: Path) -> None:
    edit(root / "test_c.llmops.yaml", "vars: {who: Dave}", "vars: {who: Dave, mood: calm}")


def renamed_prompt(root: Path) -> None:
    git(root, "mv", "prompts/greeter-1.0.0.yaml", "prompts/greeter.yaml")
    git(root, "commit", "-q", "-m", "rename")


def deleted_version(root: Path) -> None:
    git(root, "rm", "-q", "prompts/farewell-1.1.0.yaml")  # `farewell` now resolves to 1.0.0


def renamed_suite(root: Path) -> None:
    git(root, "mv", "test_d.llmops.yaml", "test_e.llmops.yaml")
    git(root, "commit", "-q", "-m", "rename suite")


def schema(root: Path) -> None:
    write(root / "schemas" / "reply.json", json.dumps({**SCHEMA, "title": "reply"}))


def python_check(root: Path) -> None:
    edit(root / "checks.py", '"dave"', '"dave" or "david"')


def changed_cassette(root: Path) -> None:
    (path,) = (root / "cassettes" / "test_a").glob("alice*.yaml")
    edit(path, "Hello, Alice!", "Hello there, Alice!")


def deleted_cassette(root: Path) -> None:
    (path,) = (root / "cassettes" / "test_a").glob("bob*.yaml")
    path.unlink()


def untracked_suite(root: Path) -> None:
    text = (root / "test_a.llmops.yaml").read_text()
    (root / "test_f.llmops.yaml").write_text(text.replace("alice", "gina").replace("bob", "hank"))


SCENARIOS: dict[str, tuple[Scenario, set[str]]] = {
    "shared prompt, uncommitted edit": (wording, {"alice", "bob", "carol"}),
    "one case entry": (case_entry, {"bob"}),
    "suite-level vars": (suite_level, {"dave", "erin"}),
    "renamed prompt file, committed": (renamed_prompt, {"alice", "bob", "carol"}),
    "deleted prompt version, staged": (deleted_version, {"dave", "erin"}),
    "renamed suite file": (renamed_suite, {"frank"}),
    "schema file": (schema, {"frank"}),
    "python check file": (python_check, {"dave"}),
    "changed cassette": (changed_cassette, {"alice"}),
    "deleted cassette": (deleted_cassette, {"bob"}),
}


def test_only_affected_cases_are_selected(repo: pytest.Pytester) -> None:
    # One repository, each change in turn, back to `base` in between (cheaper than a fixture each).
    for scenario, (change, expected) in SCENARIOS.items():
        change(repo.path)
        assert selected(repo) == expected, scenario
        git(repo.path, "reset", "-q", "--hard", "base")
        git(repo.path, "clean", "-q", "-fd")


def test_untracked_suite_is_selected(repo: pytest.Pytester) -> None:
    untracked_suite(repo.path)
    result = repo.runpytest("--collect-only", "-q", "--llmops-changed-since=base")
    result.stdout.fnmatch_lines(
        ["test_f.llmops.yaml::gina*", "test_f.llmops.yaml::hank*", "*(6 deselected)*"]
    )


def test_selected_cases_run_and_the_rest_is_deselected(repo: pytest.Pytester) -> None:
    # With -n 2: see test_diff_shows_template_diff_and_old_beside_new_responses.
    wording(repo.path)
    result = repo.runpytest("--llmops-changed-since=base", "--llmops-record-mode=new_episodes")
    result.assert_outcomes(passed=4, deselected=3)


def test_changes_are_counted_from_the_merge_base_as_a_pull_request_counts_them(repo: pytest.Pytester) -> None:
    main = git(repo.path, "rev-parse", "--abbrev-ref", "HEAD").strip()
    git(repo.path, "checkout", "-q", "-b", "feature")  # a branch with no changes of its own ...
    git(repo.path, "checkout", "-q", main)
    wording(repo.path)  # ... while main moves on: greeter's wording changes there
    git(repo.path, "commit", "-q", "-am", "main moves on")
    git(repo.path, "checkout", "-q", "feature")
    # Against the ref itself, main's edit would look like this branch's own (alice, bob, carol).
    gitrepo = GitRepo.discover(repo.path)
    assert "prompts/greeter-1.0.0.yaml" in gitrepo.changed_since(gitrepo.commit(main))
    result = repo.runpytest("--collect-only", f"--llmops-changed-since={main}")
    result.stdout.fnmatch_lines(
        [f"llmops: cases affected by changes since {main} (merge base *): 0 changed file(s)"]
    )
    assert selected(repo, f"--llmops-changed-since={main}") == set()
    # The branch's own edit is what counts.
    farewell_wording = repo.path / "prompts" / "farewell-1.1.0.yaml"
    edit(farewell_wording, "Say bye", "Say goodbye")
    assert selected(repo, f"--llmops-changed-since={main}") == {"dave", "erin"}


def test_bad_ref_is_a_usage_error(repo: pytest.Pytester) -> None:
    result = repo.runpytest("--llmops-changed-since=no-such-branch")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: --llmops-changed-since: unknown git ref 'no-such-branch': no such branch, tag or commit "
            "here. In GitHub Actions, check out with `fetch-depth: 0`*"
        ]
    )
    assert "Traceback" not in result.stderr.str()


def test_outside_a_repository_is_a_usage_error(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(pytester.path.parent))
    result = pytester.runpytest("--llmops-diff=main")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --llmops-diff: * is not inside a git repository (*"])


def test_without_git_is_a_usage_error(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(pytester.path / "empty"))
    result = pytester.runpytest("--llmops-changed-since=main")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --llmops-changed-since: git is not installed (or not on PATH)"])


# --- --llmops-diff -------------------------------------------------------------------------------


def new_version(root: Path) -> None:
    """greeter@1.1.0 with new wording; suite A moves to it (B follows through ^1)."""
    write_prompt(root, version="1.1.0", user="Wave at {{ who }}.")
    edit(root / "test_a.llmops.yaml", "greeter@1.0.0", "greeter@1.1.0")


@pytest.mark.parametrize("workers", [None, "2"])
def test_diff_shows_template_diff_and_old_beside_new_responses(
    repo: pytest.Pytester, workers: str | None
) -> None:
    new_version(repo.path)
    write(repo.path / "conftest.py", DUMP_REVIEW)
    extra = ["-n", workers] if workers else []
    result = repo.runpytest(
        "--llmops-changed-since=base", "--llmops-diff=base", "--llmops-record-mode=once", *extra
    )
    # xdist's controller does not count the workers' deselections.
    result.assert_outcomes(passed=1, failed=3, **({} if workers else {"deselected": 3}))
    result.stdout.fnmatch_lines(
        [
            "*= llmops prompt diff since base (*) =*",
            "prompt greeter@1.1.0: new version",
            "  --- greeter@1.0.0 (base:prompts/greeter-1.0.0.yaml)",
            "  +++ greeter@1.1.0 (prompts/greeter-1.1.0.yaml)",
            "  -Say hello to {{ who }}.",
            "  +Wave at {{ who }}.",
            "  cases: 3",
            "cases affected since base: 3",
            "sub/test_b.llmops.yaml::carol[[]greeter@1.1.0-openai:gpt-4o-mini[]]: score 1.00 → 0.00 (-1.00)",
            "  why: prompt file changed: prompts/greeter-1.1.0.yaml",
            "  old: Hello, Carol!",
            "  new: Waves.",
            "test_a.llmops.yaml::alice[[]greeter@1.1.0-openai:gpt-4o-mini[]]: score 1.00 → 0.00 (-1.00)",
            "  why: suite-level `prompt` changed; prompt file changed: prompts/greeter-1.1.0.yaml",
            "  old: Hello, Alice!",
            "  new: Waves.",
            "test_a.llmops.yaml::bob[[]greeter@1.1.0-openai:gpt-4o-mini[]]: score 1.00 → 0.00 (-1.00)",
        ]
    )
    data = json.loads((repo.path / "review.json").read_text())
    jsonschema.validate(data, report_schema()["properties"]["prompt_diffs"])
    (prompt,) = data["prompts"]
    assert prompt["change"] == "new version"
    assert prompt["old"]["version"] == "1.0.0" and prompt["new"]["version"] == "1.1.0"
    assert prompt["suggested_bump"] == {
        "level": "patch",
        "reasons": ["wording only: the template text changed, its variables did not"],
        "actual": "minor",
        "enough": True,
    }
    assert len(prompt["cases"]) == 3
    alice = next(c for c in data["cases"] if c["case"] == "alice")
    assert alice["old"]["cassette"] == "cassettes/test_a/alice[greeter@1.0.0-openai_gpt-4o-mini].yaml"
    assert (alice["old"]["score"], alice["new"]["score"], alice["score_change"]) == (1.0, 0.0, -1.0)
    markdown = render_review_markdown(Review.from_dict(data))
    assert (
        "<details><summary><code>greeter@1.1.0</code>: new version · suggested bump: patch · 3 case(s)"
        in markdown
    )
    assert "```diff\n--- greeter@1.0.0 (base:prompts/greeter-1.0.0.yaml)" in markdown
    assert (
        "| `test_a.llmops.yaml::alice[greeter@1.1.0-openai:gpt-4o-mini]` | 1.00 → 0.00 (-1.00) | Hello, Alice! | Waves. |"
        in markdown
    )


def test_diff_suggests_a_bigger_bump_when_the_new_version_is_too_small(repo: pytest.Pytester) -> None:
    write_prompt(repo.path, version="1.0.1", user="Say hello.")  # drops `who`: a major change
    result = repo.runpytest("--collect-only", "--llmops-diff=base")
    result.stdout.fnmatch_lines(
        [
            "prompt greeter@1.0.1: new version",
            "  suggested bump: major (this change is patch), because variable removed: who",
            "  -Say hello to {{ who }}.",
            "  +Say hello.",
        ]
    )


def test_diff_lists_an_edited_prompt_and_a_deleted_one(repo: pytest.Pytester) -> None:
    wording(repo.path)
    deleted_version(repo.path)
    result = repo.runpytest("--collect-only", "--llmops-diff=base")
    result.stdout.fnmatch_lines(
        [
            "prompt farewell@1.1.0: deleted",
            "  --- farewell@1.1.0 (base:prompts/farewell-1.1.0.yaml)",
            "  +++ /dev/null",
            "prompt greeter@1.0.0: edited in place",
            "  suggested bump: patch (this change is no bump), because wording only*",
            "  +Please say hello to {{ who }}.",
        ]
    )


# --- reading old answers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "text"),
    [
        (json.dumps({"choices": [{"message": {"role": "assistant", "content": "Hi"}}]}), "Hi"),
        (
            json.dumps({"content": [{"type": "text", "text": "Hello"}, {"type": "text", "text": "!"}]}),
            "Hello!",
        ),
        (
            'data: {"choices": [{"delta": {"content": "He"}}]}\n\n'
            'data: {"choices": [{"delta": {"content": "y"}}]}\n\ndata: [DONE]\n\n',
            "Hey",
        ),
        (
            'event: content_block_delta\ndata: {"type": "content_block_delta", "delta": {"type": "text_delta", '
            '"text": "Yo"}}\n\nevent: message_stop\ndata: {"type": "message_stop"}\n\n',
            "Yo",
        ),
        (b'{"choices": [{"message": {"content": "bytes"}}]}', "bytes"),
        ('{"error": {"message": "nope"}}', None),
    ],
)
def test_old_answers_are_read_from_openai_anthropic_and_stream_bodies(
    body: str | bytes, text: str | None
) -> None:
    # The providers' own readers of recorded bodies, the parsers replays use.
    answer = _read_any(body.encode() if isinstance(body, str) else body)
    assert (answer.text if answer else None) == text


def test_diff_reaches_the_json_and_markdown_reports(repo: pytest.Pytester) -> None:
    new_version(repo.path)
    result = repo.runpytest(
        "--llmops-diff=base", "--llmops-record-mode=once",
        "--llmops-report=report.json", "--llmops-markdown=report.md",
    )  # fmt: skip
    assert result.ret in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED)
    data = json.loads((repo.path / "report.json").read_text())
    from pytest_llmops.report.json import report_schema

    jsonschema.validate(data, report_schema())
    assert [p["new"]["version"] for p in data["prompt_diffs"]["prompts"]] == ["1.1.0"]
    markdown = (repo.path / "report.md").read_text()
    assert "<code>greeter@1.1.0</code>: new version" in markdown
