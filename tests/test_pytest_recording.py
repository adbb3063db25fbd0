"""pytest-recording and the ``llmops`` fixture on one test: never one cassette, never a key.

The rule (docs/recording.md): calls made while the ``llmops`` fixture is active go to the llmops
cassette; pytest-recording's cassette gets only the calls made outside that window (here, by a
fixture set up before ``llmops``), is moved aside when its path would be ours, and is scrubbed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from pytest_llmops.testing import ScriptedLLMServer

from .helpers import FAKE_OPENAI_KEY, all_text_under, write

TEST = """
import os
import openai, requests
import pytest

URL = os.environ["APP_LLM_URL"]
KEY = os.environ.get("OPENAI_API_KEY") or "none"


@pytest.fixture
def warm_up():
    # Set up before `llmops`: this call is pytest-recording's, with the key in its header.
    requests.post(URL + "/chat/completions", headers={"authorization": "Bearer " + KEY},
                  json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "warm up " + KEY}]})


@pytest.mark.vcr
@pytest.mark.llmops(provider="openai:gpt-4o-mini")
def test_both(warm_up, llmops):
    with openai.OpenAI(base_url=URL, api_key=KEY, max_retries=0) as client:
        answer = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "sdk"}])
    llmops.check(answer.choices[0].message.content, contains="answer")
"""


def test_a_sentinel_key_reaches_no_file_of_either_plugin(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    llmops_server.reply("an answer")
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_OPENAI_KEY)
    monkeypatch.setenv("APP_LLM_URL", llmops_server.base_url)
    write(pytester.path / "test_both.py", TEST)
    result = pytester.runpytest("--record-mode=once", "--llmops-record-mode=once", "-p", "recording")
    result.assert_outcomes(passed=1)
    assert len(llmops_server.requests) == 2
    folder = pytester.path / "cassettes" / "test_both"
    ours, theirs = folder / "test_both.yaml", folder / "test_both.vcr.yaml"
    assert sorted(p.name for p in folder.iterdir()) == [theirs.name, ours.name]
    # Ours holds the call made while the fixture was active; theirs only the warm-up.
    assert _contents(ours) == ["sdk"] and _contents(theirs)[0].startswith("warm up ")
    assert FAKE_OPENAI_KEY not in all_text_under(pytester.path)
    assert FAKE_OPENAI_KEY not in result.stdout.str()
    # Both replay offline.
    llmops_server.close()
    monkeypatch.delenv("OPENAI_API_KEY")
    pytester.runpytest("-p", "recording").assert_outcomes(passed=1)


def _contents(path: Path) -> list[str]:
    interactions = yaml.safe_load(path.read_text())["interactions"]
    return [json.loads(i["request"]["body"])["messages"][-1]["content"] for i in interactions]
