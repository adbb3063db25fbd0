"""Helpers shared by the tests: obviously fake keys, and writers of suites, prompts and ini lines.

Fixtures live in ``conftest.py``; plain functions and constants live here, imported as
``from .helpers import ...`` (a test module never imports from a conftest).
"""

from __future__ import annotations

import json
import re
import textwrap
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from pytest_llmops.results import CaseResult, Outcome, Usage
from pytest_llmops.testing import ScriptedLLMServer, UsageOverride

# Obviously fake keys: tests assert they appear in no cassette, report or log.
FAKE_OPENAI_KEY = "sk-test-FAKE-openai-sentinel-do-not-use"
FAKE_ANTHROPIC_KEY = "fake-anthropic-sentinel-do-not-use"
FAKE_CUSTOM_KEY = "fake-custom-sentinel-do-not-use"
FAKE_AZURE_KEY = "fake-azure-sentinel-do-not-use"
FAKE_GEMINI_KEY = "fake-gemini-sentinel-do-not-use"
FAKE_VERTEX_TOKEN = "fake-vertex-token-sentinel-do-not-use"
#: AWS's access key ids are public by design (they name the key); the secret and the session
#: token are what must never be stored, and what SigV4 derives its signature from.
FAKE_AWS_ACCESS_KEY_ID = "AKIAFAKESENTINEL0000"
FAKE_AWS_SECRET = "fake-aws-secret-sentinel-do-not-use"
FAKE_AWS_SESSION_TOKEN = "fake-aws-session-sentinel-do-not-use"
FAKE_BEDROCK_TOKEN = "fake-bedrock-api-key-sentinel-do-not-use"
SENTINELS = (FAKE_OPENAI_KEY, FAKE_ANTHROPIC_KEY, FAKE_CUSTOM_KEY)
#: Every fake secret of the providers beyond OpenAI and Anthropic.
PROVIDER_SENTINELS = (
    FAKE_AZURE_KEY,
    FAKE_GEMINI_KEY,
    FAKE_VERTEX_TOKEN,
    FAKE_AWS_SECRET,
    FAKE_AWS_SESSION_TOKEN,
    FAKE_BEDROCK_TOKEN,
)
#: Environment variables that could carry a developer's real credentials or endpoints into a
#: test: removed before every test (``conftest.py``).
AMBIENT_PROVIDER_ENV = (
    "AZURE_OPENAI_API_KEY",
    "AZURE_OPENAI_AD_TOKEN",
    "AZURE_OPENAI_ENDPOINT",
    "OPENAI_API_VERSION",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "GOOGLE_GEMINI_BASE_URL",
    "GOOGLE_OAUTH_ACCESS_TOKEN",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "GOOGLE_CLOUD_PROJECT",
    "GOOGLE_CLOUD_LOCATION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_BEARER_TOKEN_BEDROCK",
    "AWS_ENDPOINT_URL_BEDROCK_RUNTIME",
    "OLLAMA_HOST",
    "OLLAMA_API_KEY",
    "OPENROUTER_API_KEY",
    "MISTRAL_API_KEY",
    "LITELLM_API_KEY",
)

INNER_INI = """\
[pytest]
filterwarnings = error
# pytester re-imports hypothesis's plugin (and re-rewrites it) for every inner run: 4 s each.
addopts = -p no:hypothesispytest
"""


def glob_escape(text: str) -> str:
    """``text`` as an fnmatch pattern that matches only itself (``[``, ``]``, ``*``, ``?`` escaped)."""
    return "".join(f"[{c}]" if c in "[]*?" else c for c in text)


def add_ini(pytester: pytest.Pytester, *lines: str) -> None:
    with (pytester.path / "pytest.ini").open("a") as handle:
        handle.write("\n".join(lines) + "\n")


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def write_prompt(
    root: Path,
    name: str = "greeter",
    version: str = "1.0.0",
    user: str = "Say hello to {{ who }}.",
    system: str | None = "You are terse.",
    model: str | None = "gpt-4o-mini",
    folder: str = "prompts",
) -> Path:
    lines = [f"name: {name}", f"version: {version}"]
    if model:
        lines.append(f"model: {model}")
    lines.append("temperature: 0")
    if system is not None:
        lines.append(f"system: {system!r}")
    lines.append(f"user: {user!r}")
    return write(root / folder / f"{name}-{version}.yaml", "\n".join(lines) + "\n")


def all_text_under(root: Path) -> str:
    """Every readable file below ``root`` (cassettes, reports, caches), concatenated."""
    chunks = []
    for path in root.rglob("*"):
        if path.is_file():
            try:
                chunks.append(path.read_text(encoding="utf-8", errors="replace"))
            except OSError:
                continue
    return "\n".join(chunks)


# -- suites on the scripted server, and results made by hand ---------------------------------

#: gpt-4o-mini at $0.15 / $0.60 per million: 1,000 input + 500 output tokens cost $0.00045.
USAGE = UsageOverride(input_tokens=1000, output_tokens=500)
CASE_COST = 0.00045


def greet_reply(request: Any) -> str:
    """``Hello, Alice!`` for "Say hello to Alice."; v2 prompts ("Greet ... warmly") get a longer one."""
    text = request["messages"][-1]["content"]
    who = text.rstrip(".").split()[-1] if "warmly" not in text else text.split()[1]
    return f"Hello, {who}! Welcome." if "warmly" in text else f"Hello, {who}!"


def make_suite(
    root: Path,
    server: ScriptedLLMServer,
    cases: str,
    *,
    prompts: Sequence[str] = ("greeter@1.0.0",),
    model: str = "gpt-4o-mini",
    name: str = "test_greet.llmops.yaml",
) -> Path:
    """A suite of ``cases`` (YAML under ``tests:``) on the scripted server."""
    write_prompt(root)
    if "greeter@2.0.0" in prompts:
        write_prompt(root, version="2.0.0", user="Greet {{ who }} warmly.")
    refs = "[" + ", ".join(prompts) + "]"
    header = f"""
        prompt: {refs}
        provider:
          id: openai:{model}
          base_url: {server.base_url}
        tests:
        """
    return write(root / name, textwrap.dedent(header) + cases.lstrip("\n"))


def junit_testcase_properties(path: Path) -> dict[str, dict[str, str]]:
    """testcase name → the ``<properties>`` inside it (xunit1)."""
    out = {}
    for testcase in ET.parse(path).iter("testcase"):
        props = testcase.find("properties")
        out[testcase.get("name", "")] = {
            p.get("name", ""): p.get("value", "") for p in (props if props is not None else [])
        }
    return out


def junit_suite_case_properties(path: Path) -> dict[str, dict[str, str]]:
    """node id → its ``llmops_*`` figures, from the ``<testsuite>``'s properties (xunit2)."""
    out: dict[str, dict[str, str]] = {}
    for suite in ET.parse(path).iter("testsuite"):
        for prop in suite.findall("properties/property"):
            nodeid, _, name = prop.get("name", "").rpartition("::")
            if name.startswith("llmops_"):
                out.setdefault(nodeid, {})[name] = prop.get("value", "")
    return out


def llmops_section(stdout: str) -> list[str]:
    """The lines of the ``llmops summary`` section."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if "llmops summary" in line)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("=")), len(lines))
    return lines[start + 1 : end]


def case(
    name: str,
    outcome: str = "passed",
    *,
    version: str = "1.0.0",
    score: float | None = 1.0,
    cost: float | None = 0.001,
    latency: float | None = 100.0,
    **extra: Any,
) -> CaseResult:
    data: dict[str, Any] = {
        "nodeid": f"test_s.llmops.yaml::{name}[p@{version}-openai:gpt-4o-mini]",
        "suite": "test_s.llmops.yaml",
        "case": name,
        "outcome": Outcome(outcome),
        "prompt": "p",
        "prompt_version": version,
        "provider": "openai:gpt-4o-mini",
        "model": "gpt-4o-mini",
        "score": score,
        "cost_usd": cost,
        "latency_ms": latency,
        "usage": Usage(100, 50),
        "location": "test_s.llmops.yaml:3",
    }
    data.update(extra)
    return CaseResult(**data)


# -- the nine promptfoo example shapes (tests/data/promptfoo, tests/data/ports) --------------

PROMPTFOO_EXAMPLES = (
    "getting-started",
    "json-output",
    "simple-csv",
    "self-grading",
    "claude-vs-gpt",
    "python-provider",
    "openai-structured-output",
    "g-eval",
    "assertion-scoring-override",
)

_EXAMPLE_REPLIES = (
    ("capital of France", "Paris is the capital of France."),
    ("primary colour", "Red is a primary colour."),
    ("haiku about the sea", "Waves fold into foam / the sea breathes under the moon / salt on the cold wind"),
    ("object: Banana", '{"color": "yellow", "countries": ["Ecuador", "Philippines"]}'),
    ("object: Passion fruit", '{"color": "purple", "countries": ["Brazil", "Paraguay"]}'),
    ("to French", "Bonjour le monde"),
    ("into French", "Bonjour le monde !"),
    ("Spanish", "¿Dónde está la biblioteca?"),
    ("German", "Guten Morgen"),
    ("charged twice", '{"category": "billing", "urgency": "high"}'),
    ("reset my password", '{"category": "account", "urgency": "low"}'),
    ("promotions or discounts", "Hi Jane! Yes, there is a 10% discount on every plan this week."),
    ("status of my order", "Hi Ben, your order #54321 has shipped; its status is in your account."),
    ("specific product", "Hi Bob, of course: tell me the product's name and I will find it."),
    (
        "summary of this article",
        "The article reports one clear development. It gives the key dates and plans.",
    ),
)


def _text_of(content: Any) -> str:
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return str(content or "")


def promptfoo_example_reply(request: Any) -> str:
    """Answers for the nine example shapes: each passes its example's checks (judges say pass)."""
    messages = request.get("messages") or []
    system = _text_of(request.get("system")) + " ".join(
        _text_of(m.get("content")) for m in messages if m.get("role") == "system"
    )
    if "pytest-llmops judge" in system:
        if "g-eval" in system:
            return '{"reason": "Clear, organised and faithful to the article.", "score": 5}'
        return '{"reason": "The output satisfies the rubric.", "score": 1, "verdict": "pass"}'
    last = _text_of(messages[-1].get("content")) if messages else ""
    for key, reply in _EXAMPLE_REPLIES:
        if key in last:
            return reply
    if "tweet about" in last:
        topic = last.rsplit("about", 1)[-1].strip().rstrip(".")
        return f"Just had {topic} for breakfast and now I am a philosopher. #{topic.replace(' ', '')}"
    return "OK"


# --- judges without HTTP ------------------------------------------------------------------

#: The material the judge corpora judge (tests/data/judge_replies.yaml names it too).
CORPUS_RUBRIC = "Apologises for the delay and states the 14-day refund window"
CORPUS_INPUT = "My refund still hasn't arrived. What's going on?"
CORPUS_OUTPUT = "Sorry for the wait! Refunds take up to 14 days to reach your account."
CORPUS_EXPECTED = "Refunds take up to 14 days."
#: One assertion per judge kind, as a suite would write it (the corpora run each through it).
JUDGE_SPECS: dict[str, dict[str, Any]] = {
    "llm-rubric": {"type": "llm-rubric", "value": CORPUS_RUBRIC},
    "safety": {"type": "safety"},
    "g-eval": {"type": "g-eval", "criteria": "Helpfulness", "steps": ["Read the input", "Judge the output"]},
    "g-eval-1-10": {
        "type": "g-eval",
        "criteria": "Helpfulness",
        "steps": ["Read the input", "Judge the output"],
        "scale": [1, 10],
    },
    "relevance": {"type": "relevance"},
    "accuracy": {"type": "accuracy"},
    "factuality": {"type": "factuality"},
    "model-graded-closedqa": {"type": "model-graded-closedqa", "value": CORPUS_RUBRIC},
    "answer-relevance": {"type": "answer-relevance"},
    "context-faithfulness": {"type": "context-faithfulness"},
    "context-recall": {"type": "context-recall"},
    "context-relevance": {"type": "context-relevance"},
}
#: What was retrieved for CORPUS_INPUT, for the context judges.
CORPUS_CONTEXT = ["Refund policy: refunds reach the customer's account within 14 days."]
#: The promptfoo-style judges (judges/context.py) that read each shape of reply.
CONTEXT_KINDS_BY_SHAPE = {
    "pass-fail": ("model-graded-closedqa",),
    "scale": ("answer-relevance", "context-faithfulness", "context-recall", "context-relevance"),
}
#: The judge kinds that read each shape of reply.
KINDS_BY_SHAPE = {
    "pass-fail": ("llm-rubric", "safety"),
    "scale": ("g-eval", "relevance", "accuracy"),
    "category": ("factuality",),
    "scale-1-10": ("g-eval-1-10",),
}


class ScriptedJudge:
    """A judge without HTTP: each call answers with the next reply (text or a function of the prompt).

    ``@NONCE@`` in a reply becomes the nonce of the prompt's material tags.
    """

    def __init__(self, *replies: Any, finish_reason: str | None = "stop", tool_calls: Any = ()) -> None:
        self.replies = list(replies)
        self.prompts: list[Any] = []
        self.finish_reason = finish_reason
        self.tool_calls = tool_calls

    def complete(self, prompt: Any, provider: Any) -> Any:
        from pytest_llmops.results import LLMResponse

        self.prompts.append(prompt)
        reply = self.replies.pop(0) if self.replies else "(no verdict)"
        text = reply(prompt) if callable(reply) else str(reply)
        found = re.search(r"<(?:output|context)-(\w+)>", prompt.messages[-1].content)
        if found:
            text = text.replace("@NONCE@", found[1])
        calls = self.tool_calls if len(self.prompts) == 1 else ()
        return LLMResponse(
            text, provider.id, provider.model or "", Usage(10, 5), self.finish_reason, tool_calls=calls
        )

    def embed(self, texts: list[str], provider: Any) -> list[list[float]]:
        raise AssertionError("not used")


def judge_outcome(
    kind: str,
    judge: ScriptedJudge,
    output: str = CORPUS_OUTPUT,
    *,
    negated: bool = False,
    provider: str = "openai:gpt-4o-mini",
    question: str = CORPUS_INPUT,
    settings: dict[str, Any] | None = None,
    context: Any = None,
) -> Any:
    """The assertion result of judge ``kind`` (a JUDGE_SPECS key) on ``output``, through the real check.

    ``context`` is the case's ``context`` variable (what was retrieved), for the context judges.
    """
    from pytest_llmops.assertions import AssertionContext, default_registry
    from pytest_llmops.prompts import RenderedPrompt
    from pytest_llmops.results import LLMResponse, Message
    from pytest_llmops.spec.schema import AssertionSpec

    spec = {"provider": provider, **JUDGE_SPECS[kind], **(settings or {})}
    if negated:
        spec["type"] = "not-" + spec["type"]
    prepared = default_registry.prepare(AssertionSpec.model_validate(spec), base_dir=Path("."))
    prompt = RenderedPrompt((Message("system", "You are a support agent."), Message("user", question)))
    response = LLMResponse(output, "openai:gpt-4o-mini", "gpt-4o-mini")
    variables = {} if context is None else {"context": context}
    checked = AssertionContext(
        output, response, vars=variables, expected=CORPUS_EXPECTED, prompt=prompt, judge=judge
    )
    return prepared.run(checked)


def outcome_word(result: Any) -> str:
    """``pass``, ``fail`` or ``unscored``: how a corpus names an assertion's outcome."""
    return "unscored" if result.unscored else "pass" if result.passed else "fail"


# --- judge requests as the scripted server sees them ---------------------------------------

RESULTS_CONFTEST = """
import json

def pytest_runtest_logreport(report):
    if report.when == "call":
        for name, value in report.user_properties:
            if name == "llmops":
                with open("results.jsonl", "a") as handle:
                    handle.write(json.dumps(value) + "\\n")
"""


def results(pytester: pytest.Pytester) -> dict[str, dict[str, Any]]:
    """Case results by case name, from the last run (the conftest hook appends them)."""
    path = pytester.path / "results.jsonl"
    found = {}
    for line in path.read_text().splitlines():
        data = json.loads(line)
        found[data["case"]] = data
    path.unlink()
    return found


def judge_request(body: Any) -> tuple[str, str]:
    """(system prompt, first user message) of a chat request, OpenAI or Anthropic shaped."""
    messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
    system = body.get("system") or next((m["content"] for m in messages if m["role"] == "system"), "")
    user = next((m["content"] for m in messages if m["role"] == "user"), "")
    return str(system), str(user)


def is_judge(body: Any) -> bool:
    from pytest_llmops.assertions.judges import JUDGE_MARKER

    return JUDGE_MARKER in judge_request(body)[0]


def judge_kind(body: Any) -> str:
    match = re.search(r"v\d+, ([a-z-]+)\)", judge_request(body)[0])
    assert match, body
    return match[1]


def judged_output(body: Any) -> str:
    match = re.search(r"<output-(\w+)>\n(.*)\n</output-\1>", judge_request(body)[1], re.DOTALL)
    assert match, body
    return match[2]
