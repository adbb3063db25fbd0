"""The nine promptfoo example shapes, written by hand as pytest-llmops suites, run with no workaround:
recorded against the scripted server, then replayed offline with no key."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pytest_llmops.testing import ScriptedLLMServer

from .helpers import PROMPTFOO_EXAMPLES, promptfoo_example_reply

PORTS = Path(__file__).parent / "data" / "ports"
#: Items per example: cases × prompt versions × providers.
ITEMS = {
    "getting-started": 12,
    "json-output": 2,
    "simple-csv": 6,
    "self-grading": 3,
    "claude-vs-gpt": 4,
    "python-provider": 2,
    "openai-structured-output": 2,
    "g-eval": 2,
    "assertion-scoring-override": 2,
}


@pytest.mark.parametrize("example", PROMPTFOO_EXAMPLES)
def test_each_port_records_and_replays_passing(
    example: str,
    pytester: pytest.Pytester,
    llmops_server: ScriptedLLMServer,
    fake_keys: object,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    llmops_server.reply(promptfoo_example_reply)
    monkeypatch.setenv("OPENAI_BASE_URL", llmops_server.base_url)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", llmops_server.root_url)
    shutil.copytree(PORTS / example, pytester.path, dirs_exist_ok=True)
    (pytester.path / "suite.llmops.yaml").rename(
        pytester.path / f"test_{example.replace('-', '_')}.llmops.yaml"
    )
    pytester.runpytest("--llmops-record-mode=once").assert_outcomes(passed=ITEMS[example])
    for name in ("OPENAI_BASE_URL", "ANTHROPIC_BASE_URL", "OPENAI_API_KEY", "ANTHROPIC_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    pytester.runpytest().assert_outcomes(passed=ITEMS[example])  # offline: no key, no network
