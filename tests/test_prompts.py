"""The prompt registry and rendering, used as an application would: without pytest."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pytest_llmops.errors import PromptConflictError, PromptNotFoundError, PromptRenderError
from pytest_llmops.prompts import PromptRegistry, load_prompt_file

from .helpers import write, write_prompt


@pytest.fixture
def registry(tmp_path: Path) -> PromptRegistry:
    for version in ("1.0.0", "1.2.0", "2.0.0", "2.1.0", "2.1.3", "3.0.0-beta.1"):
        write_prompt(tmp_path, version=version, user=f"v{version}: hello {{{{ who }}}}")
    return PromptRegistry.from_dir(tmp_path / "prompts")


@pytest.mark.parametrize(
    ("reference", "version"),
    [
        ("greeter", "2.1.3"),
        ("greeter@latest", "2.1.3"),
        ("greeter@2.1.0", "2.1.0"),
        ("greeter@^2", "2.1.3"),
        ("greeter@^1.1", "1.2.0"),
        ("greeter@~2.1.0", "2.1.3"),
        ("greeter@>=2,<2.1", "2.0.0"),
        ("greeter@3.0.0-beta.1", "3.0.0-beta.1"),
    ],
)
def test_references_resolve_to_the_highest_matching_version(
    registry: PromptRegistry, reference: str, version: str
) -> None:
    assert str(registry.resolve(reference).version) == version


def test_latest_is_by_version_never_by_file_time(tmp_path: Path) -> None:
    newest_file = write_prompt(tmp_path, version="1.0.0")
    write_prompt(tmp_path, version="1.10.0")
    newest_file.touch()  # the older version is the most recently modified file
    assert str(PromptRegistry.from_dir(tmp_path / "prompts").resolve("greeter").version) == "1.10.0"


def test_unmatched_reference_lists_the_versions(registry: PromptRegistry) -> None:
    with pytest.raises(
        PromptNotFoundError, match=r"versions that exist: 1\.0\.0, 1\.2\.0, 2\.0\.0, 2\.1\.0, 2\.1\.3"
    ):
        registry.resolve("greeter@^4")


def test_same_version_different_content_conflicts(tmp_path: Path) -> None:
    write_prompt(tmp_path, user="one")
    write_prompt(tmp_path, user="two", folder="prompts/other")
    with pytest.raises(PromptConflictError, match="defined twice with different content"):
        PromptRegistry.from_dir(tmp_path / "prompts")


def test_identical_copies_do_not_conflict(tmp_path: Path) -> None:
    write_prompt(tmp_path)
    write_prompt(tmp_path, folder="prompts/copy")
    assert PromptRegistry.from_dir(tmp_path / "prompts").versions("greeter") == ["1.0.0"]


def test_render_messages_model_and_params(registry: PromptRegistry) -> None:
    rendered = registry.get("greeter", "2.1.0").render(who="Ada")
    assert rendered.to_messages() == [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "v2.1.0: hello Ada"},
    ]
    assert rendered.model == "gpt-4o-mini"
    assert rendered.params == {"temperature": 0.0}
    assert (rendered.name, rendered.version) == ("greeter", "2.1.0")


def test_undefined_variable_names_variable_prompt_and_case(registry: PromptRegistry) -> None:
    with pytest.raises(PromptRenderError) as info:
        registry.get("greeter", "2.1.0").render({"whom": "x"}, case="refund_request")
    message = str(info.value)
    assert "'who' is undefined" in message
    assert "greeter@2.1.0" in message
    assert "case refund_request" in message
    assert "Variables given: whom" in message


def test_variable_values_are_data_never_templates(registry: PromptRegistry) -> None:
    rendered = registry.get("greeter", "2.1.0").render(who="{{ 7 * 7 }} {% raw %}")
    assert rendered.messages[-1].content == "v2.1.0: hello {{ 7 * 7 }} {% raw %}"


def test_sandbox_refuses_python_internals(tmp_path: Path) -> None:
    write_prompt(tmp_path, user="{{ who.__class__.__mro__[1].__subclasses__() }}")
    prompt = PromptRegistry.from_dir(tmp_path / "prompts").get("greeter")
    with pytest.raises(PromptRenderError, match="sandbox forbids"):
        prompt.render(who="x")


def test_few_shot_messages_list(tmp_path: Path) -> None:
    write(
        tmp_path / "prompts" / "fs.yaml",
        """
        name: few-shot
        version: 1.0.0
        messages:
          - {role: system, content: Classify.}
          - {role: user, content: "great!"}
          - {role: assistant, content: positive}
          - {role: user, content: "{{ text }}"}
        """,
    )
    prompt = load_prompt_file(tmp_path / "prompts" / "fs.yaml")
    assert [m.role for m in prompt.render(text="meh").messages] == ["system", "user", "assistant", "user"]
    assert prompt.variables == {"text"}


def test_content_hash_ignores_formatting_and_comments(tmp_path: Path) -> None:
    a = write(tmp_path / "a.yaml", "name: x\nversion: 1.0.0\nuser: hi\n")
    b = write(tmp_path / "b.yaml", "# a comment\nname:    x\nversion: '1.0.0'\nuser: \"hi\"\n")
    c = write(tmp_path / "c.yaml", "name: x\nversion: 1.0.0\nuser: hello\n")
    assert load_prompt_file(a).content_hash == load_prompt_file(b).content_hash
    assert load_prompt_file(a).content_hash != load_prompt_file(c).content_hash


def test_registry_works_without_pytest(tmp_path: Path) -> None:
    write_prompt(tmp_path, version="2.0.0")
    script = (
        "import sys; sys.modules['pytest'] = None; sys.modules['_pytest'] = None\n"
        "from pytest_llmops.prompts import PromptRegistry\n"
        f"r = PromptRegistry.from_dir({str(tmp_path / 'prompts')!r})\n"
        "print(r.get('greeter', '^2').render(who='app').to_messages()[-1]['content'])\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "Say hello to app."
