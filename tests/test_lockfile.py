"""The version-bump guard: prompts.lock, bump hints, --llmops-update-lock, CI behaviour."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pytest_llmops.prompts import load_prompt_file
from pytest_llmops.prompts.lockfile import (
    LockFile,
    PromptSnapshot,
    check_prompts,
    next_version,
    suggest_bump,
)
from pytest_llmops.testing import ScriptedLLMServer

from .helpers import add_ini, write, write_prompt

SUITE = """
prompt: {ref}
provider:
  id: openai:gpt-4o-mini
  base_url: {url}
tests:
  - name: alice
    vars: {{who: Alice}}
    assert:
      - {{type: icontains, value: alice}}
"""

INTERRUPTED = pytest.ExitCode.INTERRUPTED


@pytest.fixture(autouse=True)
def _not_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    # The outer run may itself be in CI; the local behaviour is the default here.
    monkeypatch.delenv("CI", raising=False)


@pytest.fixture
def project(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer, fake_keys: object
) -> pytest.Pytester:
    """A suite on greeter@1.0.0 with a lock that matches it, and cassettes recorded."""
    llmops_server.reply("Hello, Alice!")
    write_prompt(pytester.path)
    suite(pytester, llmops_server, "greeter@1.0.0")
    result = pytester.runpytest("--llmops-record-mode=once", "--llmops-update-lock")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["llmops: prompts.lock created with 1 prompt versions; commit it"])
    return pytester


def suite(pytester: pytest.Pytester, server: ScriptedLLMServer, ref: str) -> Path:
    return write(pytester.path / "test_greet.llmops.yaml", SUITE.format(ref=ref, url=server.base_url))


def lock_of(pytester: pytest.Pytester) -> dict[str, object]:
    data = yaml.safe_load((pytester.path / "prompts.lock").read_text())
    assert isinstance(data, dict)
    return data


def test_no_lock_means_no_guard_and_nothing_written(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer, fake_keys: object
) -> None:
    llmops_server.reply("Hello, Alice!")
    write_prompt(pytester.path)
    suite(pytester, llmops_server, "greeter@1.0.0")
    pytester.runpytest("--llmops-record-mode=once").assert_outcomes(passed=1)
    write_prompt(pytester.path, user="Changed {{ who }}.")
    result = pytester.runpytest("--collect-only")
    assert result.ret == pytest.ExitCode.OK
    assert not (pytester.path / "prompts.lock").exists()


def test_lock_is_readable_sorted_and_deterministic(project: pytest.Pytester) -> None:
    write(
        project.path / "prompts" / "alpha.yaml",
        """
        name: alpha
        version: 1.0.0
        model: gpt-4o
        user: |
          Line one {{ a }}.
          Line two.
        """,
    )
    write_prompt(project.path, version="0.9.0", user="Hi {{ who }}.")
    write_prompt(project.path, version="1.10.0", user="Hey {{ who }}.")
    project.runpytest("--collect-only", "--llmops-update-lock").stdout.fnmatch_lines(
        ["llmops: prompts.lock updated: added alpha@1.0.0, greeter@0.9.0, greeter@1.10.0; commit it"]
    )
    text = (project.path / "prompts.lock").read_text()
    assert text.startswith("# prompts.lock: the content of every prompt version")
    data = lock_of(project)
    prompts = data["prompts"]
    assert isinstance(prompts, dict)
    assert list(prompts) == ["alpha", "greeter"]
    assert list(prompts["greeter"]) == ["0.9.0", "1.0.0", "1.10.0"]  # SemVer order, not text order
    entry = prompts["greeter"]["1.0.0"]
    assert entry["file"] == "prompts/greeter-1.0.0.yaml"
    assert len(entry["sha256"]) == 64
    assert entry["model"] == "gpt-4o-mini"
    assert entry["params"] == {"temperature": 0}
    assert entry["variables"] == ["who"]
    assert entry["messages"] == [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Say hello to {{ who }}."},
    ]
    # Multi-line templates are block scalars: a template edit is a line edit in the lock.
    assert "content: |\n          Line one {{ a }}.\n          Line two.\n" in text
    # A second run changes nothing, byte for byte.
    project.runpytest("--collect-only", "--llmops-update-lock").stdout.fnmatch_lines(
        ["llmops: prompts.lock is up to date (4 prompt versions checked)"]
    )
    assert (project.path / "prompts.lock").read_text() == text


CHANGES = {
    "wording": (
        {"user": "Please greet {{ who }} warmly."},
        [
            "*-Say hello to {{ who }}.",
            "*+Please greet {{ who }} warmly.",
            "*suggested version: 1.0.1 (patch, because wording only: the template text changed, its variables did not)",
        ],
    ),
    "new variable": (
        {"user": "Say hello to {{ who }} in {{ language }}."},
        [
            "*-Say hello to {{ who }}.",
            "*+Say hello to {{ who }} in {{ language }}.",
            "*suggested version: 1.1.0 (minor, because new variable: language)",
        ],
    ),
    "removed variable": (
        {"user": "Say hello."},
        ["*+Say hello.", "*suggested version: 2.0.0 (major, because variable removed: who)"],
    ),
    "changed model": (
        {"model": "gpt-4o"},
        [
            "*-model: gpt-4o-mini",
            "*+model: gpt-4o",
            "*suggested version: 2.0.0 (major, because the model changed (gpt-4o-mini → gpt-4o))",
        ],
    ),
}


@pytest.mark.parametrize("kind", list(CHANGES))
def test_changed_prompt_without_bump_fails_with_hashes_diff_and_hint(
    project: pytest.Pytester, llmops_server: ScriptedLLMServer, kind: str
) -> None:
    old_hash = lock_of(project)["prompts"]["greeter"]["1.0.0"]["sha256"]  # type: ignore[index]
    edit, expected = CHANGES[kind]
    write_prompt(project.path, **edit)  # type: ignore[arg-type]
    before = len(llmops_server.requests)
    result = project.runpytest("--llmops-record-mode=all")
    assert result.ret == INTERRUPTED
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR collecting prompts.lock*",
            "prompt greeter@1.0.0 changed, but its version did not (prompts/greeter-1.0.0.yaml)",
            f"  hash in prompts.lock: sha256:{old_hash[:12]}",
            "  hash now:             sha256:*",
            "  template diff:",
            "    --- greeter@1.0.0 (prompts.lock)",
            "    +++ greeter@1.0.0 (prompts/greeter-1.0.0.yaml)",
            *expected,
            "*Bump the version: save the edit as `version: *`*",
            "*run `pytest --llmops-update-lock` and commit prompts.lock.",
            "*Interrupted: 1 error during collection*",
        ]
    )
    assert "Traceback" not in result.stdout.str()
    assert len(llmops_server.requests) == before, "a failed guard runs no case, records nothing"
    assert lock_of(project)["prompts"]["greeter"]["1.0.0"]["sha256"] == old_hash  # type: ignore[index]


def test_update_lock_accepts_an_intentional_change(project: pytest.Pytester) -> None:
    write_prompt(project.path, user="Please greet {{ who }} warmly.")
    result = project.runpytest("--collect-only", "--llmops-update-lock")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["llmops: prompts.lock updated: updated greeter@1.0.0; commit it"])
    assert project.runpytest("--collect-only").ret == pytest.ExitCode.OK


def test_bump_in_place_adds_the_new_version_and_drops_the_old_one_locally(project: pytest.Pytester) -> None:
    path = project.path / "prompts" / "greeter-1.0.0.yaml"
    path.write_text(path.read_text().replace("1.0.0", "1.0.1").replace("Say hello", "Greet"))
    (project.path / "test_greet.llmops.yaml").write_text(
        (project.path / "test_greet.llmops.yaml").read_text().replace("greeter@1.0.0", "greeter@^1")
    )
    result = project.runpytest("--collect-only")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        ["llmops: prompts.lock updated: added greeter@1.0.1; dropped greeter@1.0.0; commit it"]
    )
    assert list(lock_of(project)["prompts"]["greeter"]) == ["1.0.1"]  # type: ignore[index]


def test_new_version_is_added_locally(project: pytest.Pytester) -> None:
    write_prompt(project.path, version="1.1.0", user="Hi {{ who }}!")
    result = project.runpytest("--llmops-record-mode=none")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["llmops: prompts.lock updated: added greeter@1.1.0; commit it"])
    assert list(lock_of(project)["prompts"]["greeter"]) == ["1.0.0", "1.1.0"]  # type: ignore[index]


def test_in_ci_an_out_of_date_lock_fails_and_is_never_written(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", "true")
    before = (project.path / "prompts.lock").read_text()
    write_prompt(project.path, version="1.1.0", user="Hi {{ who }}!")
    result = project.runpytest()
    assert result.ret == INTERRUPTED
    result.stdout.fnmatch_lines(
        [
            "*ERROR collecting prompts.lock*",
            "prompts.lock is out of date (not in it yet: greeter@1.1.0). In CI the lock is never "
            "written: run `pytest --llmops-update-lock` (or any local run) and commit prompts.lock.",
        ]
    )
    assert (project.path / "prompts.lock").read_text() == before
    # An explicit update is allowed in CI.
    project.runpytest("--collect-only", "--llmops-update-lock").stdout.fnmatch_lines(
        ["llmops: prompts.lock updated: added greeter@1.1.0; commit it"]
    )
    assert project.runpytest("--collect-only").ret == pytest.ExitCode.OK


@pytest.mark.parametrize("update", [False, True])
def test_deleting_a_version_a_suite_uses_names_the_suite(project: pytest.Pytester, update: bool) -> None:
    write_prompt(project.path, version="1.1.0", user="Hi {{ who }}!")
    project.runpytest("--collect-only").stdout.fnmatch_lines(["*added greeter@1.1.0*"])
    (project.path / "prompts" / "greeter-1.0.0.yaml").unlink()
    result = project.runpytest("--collect-only", *(["--llmops-update-lock"] if update else []))
    assert result.ret == INTERRUPTED
    result.stdout.fnmatch_lines(
        [
            "prompt greeter@1.0.0 was deleted (prompts/greeter-1.0.0.yaml), but a suite still uses it:",
            "  test_greet.llmops.yaml:1: prompt: greeter@1.0.0",
            "  Restore prompts/greeter-1.0.0.yaml, or point the suite at another version; then run "
            "`pytest --llmops-update-lock` to drop greeter@1.0.0 from prompts.lock.",
        ]
    )
    assert "1.0.0" in lock_of(project)["prompts"]["greeter"]  # type: ignore[operator]


def test_deleting_a_version_no_suite_needs_drops_it(project: pytest.Pytester) -> None:
    write_prompt(project.path, version="1.1.0", user="Hi {{ who }}!")
    suite_path = project.path / "test_greet.llmops.yaml"
    suite_path.write_text(suite_path.read_text().replace("greeter@1.0.0", "greeter@^1"))
    project.runpytest("--collect-only").stdout.fnmatch_lines(["*added greeter@1.1.0*"])
    (project.path / "prompts" / "greeter-1.0.0.yaml").unlink()
    result = project.runpytest("--collect-only")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["llmops: prompts.lock updated: dropped greeter@1.0.0; commit it"])


def test_lock_required_makes_a_missing_lock_an_error(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer, fake_keys: object
) -> None:
    add_ini(pytester, "llmops_lock_required = true")
    write_prompt(pytester.path)
    suite(pytester, llmops_server, "greeter@1.0.0")
    result = pytester.runpytest("--collect-only")
    assert result.ret == INTERRUPTED
    result.stdout.fnmatch_lines(
        [
            "prompts.lock does not exist, and llmops_lock_required is set. Create it with "
            "`pytest --llmops-update-lock` and commit it."
        ]
    )


def test_lock_file_name_is_configurable(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer, fake_keys: object
) -> None:
    add_ini(pytester, "llmops_lock_file = ci/llm.lock")
    write_prompt(pytester.path)
    suite(pytester, llmops_server, "greeter@1.0.0")
    pytester.runpytest("--collect-only", "--llmops-update-lock").stdout.fnmatch_lines(
        ["llmops: ci/llm.lock created with 1 prompt versions; commit it"]
    )
    data = yaml.safe_load((pytester.path / "ci" / "llm.lock").read_text())
    assert data["prompts"]["greeter"]["1.0.0"]["file"] == "../prompts/greeter-1.0.0.yaml"
    write_prompt(pytester.path, user="Changed {{ who }}.")
    result = pytester.runpytest("--collect-only")
    result.stdout.fnmatch_lines(["*ERROR collecting ci/llm.lock*", "*hash in llm.lock:*"])


def test_conflicted_lock_is_an_error_and_update_regenerates_it(project: pytest.Pytester) -> None:
    lock = project.path / "prompts.lock"
    lock.write_text(lock.read_text() + "<<<<<<< HEAD\n=======\n>>>>>>> branch\n")
    result = project.runpytest("--collect-only")
    assert result.ret == INTERRUPTED
    result.stdout.fnmatch_lines(
        ["*prompts.lock: the lock file has merge conflict markers; fix it, or regenerate it with*"]
    )
    result = project.runpytest("--collect-only", "--llmops-update-lock")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["llmops: prompts.lock was unreadable and is regenerated from the prompts"])
    assert "<<<<<<<" not in lock.read_text()


def test_under_xdist_the_guard_fails_once_and_the_controller_writes(project: pytest.Pytester) -> None:
    write_prompt(project.path, version="1.1.0", user="Hi {{ who }}!")
    result = project.runpytest("-n", "2")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["llmops: prompts.lock updated: added greeter@1.1.0; commit it"])
    assert "1.1.0" in lock_of(project)["prompts"]["greeter"]  # type: ignore[operator]
    write_prompt(project.path, user="Changed {{ who }}.")
    result = project.runpytest("-n", "2")
    assert result.ret != pytest.ExitCode.OK
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["prompt greeter@1.0.0 changed, but its version did not*"])
    assert result.stdout.str().count("hash in prompts.lock") == 1


# --- the pieces, without pytest ------------------------------------------------------------------


def snapshot(tmp_path: Path, **kwargs: str | None) -> PromptSnapshot:
    path = write_prompt(tmp_path, **kwargs)  # type: ignore[arg-type]
    return PromptSnapshot.from_prompt(load_prompt_file(path), tmp_path)


def test_bump_hint_lists_every_reason_most_serious_first(tmp_path: Path) -> None:
    old = snapshot(tmp_path / "a")
    new = snapshot(tmp_path / "b", user="Hi {{ name }} in {{ language }}.", model="gpt-4o")
    hint = suggest_bump(old, new)
    assert hint.level == "major"
    assert hint.reasons == (
        "the model changed (gpt-4o-mini → gpt-4o)",
        "variable removed: who",
        "new variables: language, name",
    )


def test_next_version_skips_taken_versions() -> None:
    assert next_version("1.0.0", "patch") == "1.0.1"
    assert next_version("1.0.0", "minor", ["1.1.0", "1.2.0"]) == "1.3.0"
    assert next_version("1.4.2", "major", ["2.0.0"]) == "3.0.0"


def test_guard_judges_only_the_folders_it_scanned(tmp_path: Path) -> None:
    here = load_prompt_file(write_prompt(tmp_path, folder="a/prompts"))
    elsewhere = PromptSnapshot.from_prompt(
        load_prompt_file(write_prompt(tmp_path, name="other", folder="b/prompts")), tmp_path
    )
    lock = LockFile(tmp_path / "prompts.lock", {("other", "1.0.0"): elsewhere})
    result = check_prompts(lock, [here], scanned=[tmp_path / "a" / "prompts"])
    assert result.ok and result.added == ["greeter@1.0.0"] and result.removed == []
    assert result.lock_text is not None and "other:" in result.lock_text
