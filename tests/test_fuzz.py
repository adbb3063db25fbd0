"""Bad input never crashes collection: arbitrary YAML, plausible-but-wrong suites, prompts, cassettes,
command-line options and ini values each end in a clean error naming the file or the setting.

The property tests call the collection functions directly (a pytester run per example would be
far too slow); a few pytester runs then show that such errors reach the user as clean collection
errors. Examples per property: a few dozen in the normal run, thousands under the ``fuzz``
profile (``HYPOTHESIS_PROFILE=fuzz``, the ``fuzz`` tox env).
"""

from __future__ import annotations

import os
import string
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

from pytest_llmops.assertions import default_registry
from pytest_llmops.engine.plan import SuitePlan, load_suite
from pytest_llmops.engine.session import Session
from pytest_llmops.errors import LlmopsError
from pytest_llmops.prompts import PromptRegistry, RenderedPrompt, load_prompt_file
from pytest_llmops.providers.openai import OpenAIProvider
from pytest_llmops.recording.cassette import CaseCassette
from pytest_llmops.recording.modes import RecordMode
from pytest_llmops.recording.transport import CassetteTransport
from pytest_llmops.results import Message
from pytest_llmops.spec.schema import (
    AssertionSpec,
    CaseSpec,
    DefaultsSpec,
    PromptFileSpec,
    ProviderSpec,
    SuiteSpec,
)

from .helpers import glob_escape, write, write_prompt

# Set on each property test, so other modules' hypothesis tests keep their own settings.
settings.register_profile(
    "fuzz", max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
QUICK = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
EXAMPLES = settings.get_profile("fuzz") if os.environ.get("HYPOTHESIS_PROFILE") == "fuzz" else QUICK


# --- strategies -------------------------------------------------------------------------------


def _keys(*models: Any) -> list[str]:
    return sorted({f.alias or name for model in models for name, f in model.model_fields.items()})


SUITE_KEYS = _keys(SuiteSpec, CaseSpec, DefaultsSpec, AssertionSpec, ProviderSpec)
PROMPT_KEYS = _keys(PromptFileSpec)
# `python` assertions import the module their value names: only the explicit examples use them.
ASSERTION_TYPES = [
    prefix + name for name in default_registry.names() if name != "python" for prefix in ("", "not-")
]
# Provider ids the fuzzer may use. Random text never names a `python:` module: importing an
# arbitrary module (``antigravity``, ``this``) at collection would have side effects.
PROVIDER_IDS = [
    "openai:gpt-4o-mini",
    "anthropic:claude-haiku-4-5",
    "openai:",
    "openai",
    "nosuch:model",
    "python:json:dumps",
    "python:json",
    "python:no_such_module_for_llmops_fuzz:f",
    "python:os.path:join",
    "",
]

unicode_text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=30).filter(
    lambda s: not s.lstrip().startswith("python")
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    unicode_text,
    st.sampled_from(
        [
            "{{ who }}",
            "{{ ''.__class__.__mro__ }}",
            "{% for x in y %}",
            "greeter",
            "greeter@^1",
            "greeter@>=2,<1",
            "greeter@not-a-range",
            "(",
            "[a-z",
            "1.0.0",
            "~",
            "\t",
            "\ufeff",
            "pass^3",
            "pass@2",
            "mean",
            "pass_rate 0.8",
        ]
    ),
    st.sampled_from(PROVIDER_IDS),
    st.sampled_from(ASSERTION_TYPES),
)


def plausible(keys: list[str], depth: int = 4) -> st.SearchStrategy[Any]:
    """Nested mappings whose keys are mostly the schema's, with values of every wrong type."""
    key = st.one_of(st.sampled_from(keys), unicode_text, st.integers(), st.booleans())
    return st.recursive(
        scalars,
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.dictionaries(key, children, max_size=6),
        ),
        max_leaves=25,
    )


numbers = st.one_of(st.floats(0, 1), st.integers(0, 5))
assertions = st.fixed_dictionaries(
    {"type": st.sampled_from(ASSERTION_TYPES)},
    optional={
        "value": st.one_of(scalars, st.lists(unicode_text, max_size=3), plausible(SUITE_KEYS)),
        "threshold": numbers,
        "weight": numbers,
        "metric": st.text(string.ascii_lowercase, min_size=1, max_size=5),
        "criteria": unicode_text,
        "steps": st.lists(unicode_text, max_size=2),
    },
)
cases = st.fixed_dictionaries(
    {
        "vars": st.dictionaries(st.sampled_from(["who", "input", "x"]), scalars, max_size=3),
        "assert": st.lists(assertions, min_size=1, max_size=3),
    },
    optional={
        "repeat": st.integers(1, 3),
        "reduce": st.sampled_from(["pass^k", "pass@k", "mean", "pass_rate 0.5", {"pass_rate": 0.5}]),
        "threshold": st.floats(0, 1),
        "tags": st.lists(st.text(string.ascii_lowercase, min_size=1, max_size=5), max_size=2),
        "expected": st.one_of(scalars, plausible(SUITE_KEYS)),
        "skip": st.booleans(),
    },
)
VALID_PROVIDERS = ["openai:gpt-4o-mini", "anthropic:claude-haiku-4-5", "openai:gpt-4o"]


@st.composite
def suite_documents(draw: st.DrawFn) -> dict[Any, Any]:
    """A valid suite, then up to three edits that break it: deep code runs, and shallow checks too."""
    names = draw(
        st.lists(st.text(string.ascii_lowercase, min_size=1, max_size=6), min_size=1, max_size=4, unique=True)
    )
    document: dict[Any, Any] = {
        "prompt": draw(st.sampled_from(["greeter", "greeter@1.0.0", "greeter@^1"])),
        "provider": draw(st.lists(st.sampled_from(VALID_PROVIDERS), min_size=1, max_size=3, unique=True)),
        "judge": "openai:gpt-4o-mini",
        "tests": [{"name": name, **draw(cases)} for name in names],
    }
    if draw(st.booleans()):
        document["defaults"] = {
            "assert": draw(st.lists(assertions, max_size=2)),
            "threshold": draw(st.floats(0, 1)),
        }
    for _ in range(draw(st.integers(0, 3))):
        _edit(draw, document, SUITE_KEYS)
    return document


@st.composite
def prompt_documents(draw: st.DrawFn) -> dict[Any, Any]:
    """A valid prompt file, then up to three edits that break it."""
    document: dict[Any, Any] = {
        "name": draw(st.sampled_from(["greeter", "support-bot", "a.b_c"])),
        "version": draw(st.sampled_from(["1.0.0", "2.1", "1.0.0-rc.1+build", 3])),
        "model": "gpt-4o-mini",
        "temperature": draw(st.floats(0, 2)),
    }
    if draw(st.booleans()):
        document["system"] = draw(
            st.one_of(unicode_text, st.sampled_from(["Be {{ tone }}.", "{% if x %}a{% endif %}"]))
        )
        document["user"] = draw(st.one_of(unicode_text, st.just("Say hello to {{ who }}.")))
    else:
        document["messages"] = [
            {"role": draw(st.sampled_from(["system", "user", "assistant"])), "content": draw(unicode_text)}
            for _ in range(draw(st.integers(1, 3)))
        ]
    if draw(st.booleans()):
        document["metadata"] = draw(plausible(PROMPT_KEYS))
    for _ in range(draw(st.integers(0, 3))):
        _edit(draw, document, PROMPT_KEYS)
    return document


def _edit(draw: st.DrawFn, document: dict[Any, Any], keys: list[str]) -> None:
    """Replace, delete or add one value somewhere in the document."""
    parent: Any = document
    while True:
        keys = list(parent) if isinstance(parent, dict) else list(range(len(parent)))
        if not keys:
            return
        key = draw(st.sampled_from(keys))
        child = parent[key]
        if isinstance(child, (dict, list)) and child and draw(st.booleans()):
            parent = child
            continue
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "replace":
            parent[key] = draw(st.one_of(scalars, plausible(keys)))
        elif action == "delete":
            del parent[key]
        elif isinstance(parent, dict):
            parent[draw(st.one_of(st.sampled_from(keys), unicode_text))] = draw(scalars)
        else:
            parent.append(draw(st.one_of(scalars, plausible(keys))))
        return


def render(document: Any, *, flow: bool) -> str:
    return yaml.safe_dump(document, default_flow_style=flow, allow_unicode=True, sort_keys=False)


@st.composite
def yaml_texts(draw: st.DrawFn, documents: st.SearchStrategy[Any]) -> str:
    """A document as YAML, then maybe mangled the ways files get mangled."""
    text = render(draw(documents), flow=draw(st.booleans()))
    mangle = draw(st.sampled_from(["none", "bom", "tabs", "truncate", "anchors", "crlf", "splice"]))
    if mangle == "bom":
        text = "\ufeff" + text
    elif mangle == "tabs":
        text = text.replace("  ", "\t")
    elif mangle == "truncate":
        text = text[: draw(st.integers(0, len(text)))]
    elif mangle == "anchors":
        text = "base: &base {who: Ada, n: [1, 2]}\nloop: &loop [*base, *base]\n" + text.replace(
            "who: ", "<<: *base\n  who: ", 1
        )
    elif mangle == "crlf":
        text = text.replace("\n", "\r\n")
    elif mangle == "splice":
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.sampled_from(YAML_TOKENS)) + text[at:]
    return text


YAML_TOKENS = [
    ": ",
    "- ",
    "[",
    "]",
    "{",
    "}",
    "&a ",
    "*a",
    "*nope",
    "!!python/object/apply:os.system ['echo no']",
    "!!binary xyz",
    "? ",
    "|",
    ">",
    "---\n",
    "...\n",
    "%YAML 1.1\n",
    "#",
    "'",
    '"',
    "\t",
    "\x00",
    "\ufeff",
    "\\u",
    "~",
    "<<: *a",
    "1e999",
    "0x",
    "2001-02-03",
    "!!int abc",
    "\n  - ",
    "\u2028",
    "é",
    "🙂",
]
raw_yaml = st.lists(st.sampled_from([*YAML_TOKENS, *SUITE_KEYS, "\n", "  ", "x", "1"]), max_size=40).map(
    "".join
)
deep_nesting = st.integers(1, 5000).map(lambda n: "tests: " + "[" * n + "]" * n + "\n")


# --- the collection functions under test ----------------------------------------------------------


@pytest.fixture(scope="module")
def workspace() -> Iterator[Path]:
    """One folder for the module: hypothesis runs many examples per test, fixtures once."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        write_prompt(root)
        yield root


def note(outcome: str) -> None:
    """Count an outcome in hypothesis's statistics (``--hypothesis-show-statistics``)."""
    if currently_in_test_context():
        event(outcome)


def collect(path: Path, text: str | bytes) -> SuitePlan | LlmopsError:
    """What collection makes of a suite file: a plan, or an error that names the file."""
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
    registry = PromptRegistry.from_dir(path.parent / "prompts")
    try:
        plan = load_suite(path, prompts=lambda _folder: registry, session=Session())
    except LlmopsError as exc:
        assert path.name in str(exc), f"the error does not name the file: {exc}"
        note(f"{type(exc).__name__}: {str(exc).splitlines()[0].split(': ', 1)[-1][:40]}")
        return exc
    note(f"collected {min(len(plan.cases), 3)}+ case(s)")
    return plan


@EXAMPLES
@given(text=yaml_texts(suite_documents()))
def test_plausible_suites_collect_or_fail_naming_the_file(workspace: Path, text: str) -> None:
    collect(workspace / "test_plausible.llmops.yaml", text)


@EXAMPLES
@given(text=st.one_of(raw_yaml, deep_nesting, st.text(max_size=200)))
@example(text="")
@example(text="\ufeff")
@example(text="tests: !!python/object/apply:os.system ['echo pwned']\n")
@example(text="a: &a [*a]\n")
@example(text="provider: openai:gpt-4o-mini\ntests:\n\t- name: x\n")
@example(text="provider: openai:gpt-4o-mini\ntests: [{name: x, repeat: 1e999, assert: [{type: equals}]}]\n")
def test_any_suite_text_collects_or_fails_naming_the_file(workspace: Path, text: str) -> None:
    collect(workspace / "test_fuzz.llmops.yaml", text)


@EXAMPLES
@given(data=st.binary(max_size=200))
@example(data=b"\xff\xfe\x00garbage")
@example(data=b"provider: openai:x\n\x80\x81")
def test_any_suite_bytes_collect_or_fail_naming_the_file(workspace: Path, data: bytes) -> None:
    collect(workspace / "test_bytes.llmops.yaml", data)


@EXAMPLES
@given(text=st.one_of(yaml_texts(prompt_documents()), yaml_texts(plausible(PROMPT_KEYS))))
@example(text="name: p\nversion: 1.0.0\nuser: '{{ unclosed'\n")
@example(text="name: p\nversion: 1e999\nuser: hi\n")
@example(text="name: p\nversion: [1]\nmessages: [{role: robot, content: 1}]\n")
@example(text="name: p\nversion: 1.0.0\nuser: hi\nmetadata: {owner: {0: a, b: c}}\n")  # keys of two types
def test_any_prompt_file_loads_or_fails_naming_the_file(workspace: Path, text: str) -> None:
    path = workspace / "fuzzed-prompt.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        prompt = load_prompt_file(path)
    except LlmopsError as exc:
        assert path.name in str(exc), f"the error does not name the file: {exc}"
        note(type(exc).__name__)
        return
    note("loaded")
    # A loaded prompt renders, or fails with a PromptRenderError; nothing else.
    try:
        prompt.render({"who": "{{ 7 * 7 }}", "tone": "calm"})
    except LlmopsError:
        note("render error")


# --- hand-edited and corrupted cassettes ------------------------------------------------------------

GOOD_CASSETTE = """\
interactions:
- request:
    body: '{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}'
    headers:
      content-type:
      - application/json
    method: POST
    uri: http://127.0.0.1:9/v1/chat/completions
  response:
    body:
      string: '{"choices": [{"message": {"content": "hello"}, "finish_reason": "stop"}], "model": "gpt-4o-mini"}'
    headers:
      Content-Type:
      - application/json
    llmops:
      latency_ms: 12.5
    status:
      code: 200
      message: OK
version: 1
"""


def replay(path: Path) -> str:
    """Replay the cassette's one call the way a case would; the answer, or an LlmopsError."""
    cassette = CaseCassette(
        path, RecordMode.NONE, record_command="pytest 'x.llmops.yaml::c' --llmops-record-mode=once"
    )

    def no_network() -> httpx.BaseTransport:
        raise AssertionError("a replay must never reach the network")

    provider = OpenAIProvider(ProviderSpec(id="openai:gpt-4o-mini", base_url="http://127.0.0.1:9/v1"))
    with httpx.Client(transport=CassetteTransport(cassette, no_network)) as client:
        return provider.complete(RenderedPrompt((Message("user", "hi"),)), client).text


def cassette_edits() -> st.SearchStrategy[str]:
    """The good cassette with one value replaced, one key deleted, or the text cut or spliced."""
    lines = GOOD_CASSETTE.splitlines(keepends=True)
    replaced = st.tuples(st.integers(0, len(lines) - 1), st.one_of(scalars, plausible(SUITE_KEYS))).map(
        lambda edit: "".join(
            line if i != edit[0] or ":" not in line else line.split(":")[0] + ": " + json_flow(edit[1]) + "\n"
            for i, line in enumerate(lines)
        )
    )
    deleted = st.integers(0, len(lines) - 1).map(lambda n: "".join(lines[:n] + lines[n + 1 :]))
    cut = st.integers(0, len(GOOD_CASSETTE)).map(lambda n: GOOD_CASSETTE[:n])
    spliced = st.tuples(st.integers(0, len(GOOD_CASSETTE)), st.sampled_from(YAML_TOKENS)).map(
        lambda edit: GOOD_CASSETTE[: edit[0]] + edit[1] + GOOD_CASSETTE[edit[0] :]
    )
    return st.one_of(
        replaced,
        deleted,
        cut,
        spliced,
        yaml_texts(
            plausible(
                [
                    "interactions",
                    "request",
                    "response",
                    "status",
                    "body",
                    "string",
                    "code",
                    "headers",
                    "uri",
                    "method",
                ]
            )
        ),
    )


def json_flow(value: Any) -> str:
    return yaml.safe_dump(value, default_flow_style=True, width=10_000).strip().removesuffix("\n...")


@EXAMPLES
@given(text=cassette_edits())
@example(text=GOOD_CASSETTE)
@example(text=GOOD_CASSETTE.replace("http://", "http://["))  # found by this test: urllib's ValueError
def test_an_edited_cassette_replays_or_fails_naming_it(workspace: Path, text: str) -> None:
    path = workspace / "edited.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        answer = replay(path)
    except LlmopsError as exc:
        assert "edited.yaml" in str(exc) or "127.0.0.1:9" in str(exc), str(exc)
        note(type(exc).__name__)
    else:
        assert isinstance(answer, str)
        note("replayed")


CORRUPTIONS = {
    "truncated": GOOD_CASSETTE[: len(GOOD_CASSETTE) // 3],
    "binary garbage": b"\x89PNG\r\n\x1a\n\x00\xff\xfe",
    "not a mapping": "- just\n- a list\n",
    "no interactions": "version: 1\n",
    "interactions not a list": "interactions: {request: x}\nversion: 1\n",
    "an interaction not a mapping": "interactions: [hello]\nversion: 1\n",
    "missing response": GOOD_CASSETTE.replace("  response:", "  responze:"),
    "response not a mapping": GOOD_CASSETTE.split("  response:")[0]
    + "  response: the model said hi\nversion: 1\n",
    "request without uri": GOOD_CASSETTE.replace("    uri: http://127.0.0.1:9/v1/chat/completions\n", ""),
    "uri not a URL": GOOD_CASSETTE.replace("http://127.0.0.1:9", "http://[127.0.0.1:9"),
    "status code is text": GOOD_CASSETTE.replace("code: 200", "code: two hundred"),
    "status is a number": GOOD_CASSETTE.replace(
        "    status:\n      code: 200\n      message: OK\n", "    status: 200\n"
    ),
    "body string is a number": GOOD_CASSETTE.replace("      string: '{", "      string: 5\n      was: '{"),
    "headers not a mapping": GOOD_CASSETTE.replace(
        "    headers:\n      Content-Type:\n      - application/json\n", "    headers: json\n"
    ),
    "latency is text": GOOD_CASSETTE.replace("latency_ms: 12.5", "latency_ms: fast"),
    "a python tag": GOOD_CASSETTE.replace(
        "version: 1", "version: !!python/object/apply:os.system ['echo pwned']"
    ),
}


@pytest.mark.parametrize("content", CORRUPTIONS.values(), ids=CORRUPTIONS.keys())
def test_a_corrupted_cassette_names_itself_and_how_to_re_record(
    workspace: Path, content: str | bytes
) -> None:
    path = workspace / "corrupt.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(LlmopsError) as caught:
        replay(path)
    message = str(caught.value)
    assert f"cassette {path} cannot be read (" in message
    assert "Delete it and record again:\n    pytest 'x.llmops.yaml::c' --llmops-record-mode=once" in message
    assert "pwned" not in message or "could not determine a constructor" in message


def test_a_hand_edit_that_keeps_the_shape_still_replays(workspace: Path) -> None:
    path = workspace / "edited.yaml"
    # A header value written as plain text, a new answer, and no llmops facts: all fine.
    path.write_text(
        GOOD_CASSETTE.replace(
            "      Content-Type:\n      - application/json\n", "      Content-Type: application/json\n"
        )
        .replace('"content": "hello"', '"content": "hello, edited"')
        .replace("    llmops:\n      latency_ms: 12.5\n", ""),
        encoding="utf-8",
    )
    assert replay(path) == "hello, edited"


@pytest.mark.parametrize(
    "body",
    ["model gpt-4o-mini, hi", '{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}'],
    ids=["prose", "cut short"],
)
def test_a_recorded_request_body_that_is_no_longer_json_is_a_mismatch(workspace: Path, body: str) -> None:
    # vcrpy before 9 parsed the recorded body as JSON and raised JSONDecodeError from its matcher.
    path = workspace / "edited.yaml"
    original = """body: '{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}'"""
    assert original in GOOD_CASSETTE
    path.write_text(GOOD_CASSETTE.replace(original, f"body: '{body}'"), encoding="utf-8")
    with pytest.raises(LlmopsError) as caught:
        replay(path)
    assert str(caught.value).startswith(f"the request no longer matches its recording in {path} (")


def test_corrupted_cassettes_are_clean_case_failures_end_to_end(
    pytester: pytest.Pytester, llmops_server: Any
) -> None:
    llmops_server.reply("Hello, you!")
    write_prompt(pytester.path)
    cases = "".join(
        f"  - {{name: c{i}, vars: {{who: W{i}}}, assert: [{{type: icontains, value: hello}}]}}\n"
        for i in range(4)
    )
    write(
        pytester.path / "test_c.llmops.yaml",
        f"prompt: greeter\nprovider:\n  id: openai:gpt-4o-mini\n  base_url: {llmops_server.base_url}\ntests:\n{cases}",
    )
    pytester.runpytest("--llmops-record-mode=once").assert_outcomes(passed=4)
    files = sorted((pytester.path / "cassettes").rglob("*.yaml"))
    files[0].write_bytes(files[0].read_bytes()[:40])
    files[1].write_bytes(b"\x00\xff binary garbage")
    files[2].write_text(files[2].read_text().replace("code: 200", "code: OK"))
    llmops_server.close()
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, failed=3)
    out = result.stdout.str()
    assert "Traceback" not in out and "INTERNALERROR" not in out
    assert out.count("It was edited by hand or written by something else. Delete it and record again:") == 3
    for file in files[:3]:
        case = file.name.split("[")[0]
        result.stdout.fnmatch_lines([f"*cassette *{glob_escape(file.name)} cannot be read (*"])
        result.stdout.fnmatch_lines([f"*pytest 'test_c.llmops.yaml::{case}[[]*]' --llmops-record-mode=once"])


# --- the same errors, as a user sees them ---------------------------------------------------------

NASTY_SUITES = {
    "recursive alias": (
        "a: &a [*a]\n",
        "*test_nasty.llmops.yaml:1: invalid YAML: an alias refers to a collection that contains it",
    ),
    "billion laughs": (
        "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
        + "".join(
            f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
            for p, c in zip("abcdefg", "bcdefgh", strict=True)
        )
        + "tests: *h\n",
        "*test_nasty.llmops.yaml:1: invalid YAML: the document expands to more than * values (aliases?)",
    ),
    "python tag": (
        "tests: !!python/object/apply:os.system ['echo pwned']\n",
        "*test_nasty.llmops.yaml:1: invalid YAML: could not determine a constructor for the tag*",
    ),
    "bad int": (
        "tests: !!int ;\n",
        "*test_nasty.llmops.yaml: invalid YAML: a value cannot be read (ValueError: *",
    ),
    "binary": (b"\x89PNG\r\n\x1a\n\x00\xff", "*test_nasty.llmops.yaml: not UTF-8 text (*"),
    "tabs": (
        "provider: openai:gpt-4o-mini\ntests:\n\t- name: a\n",
        "*test_nasty.llmops.yaml:3: invalid YAML: found character that cannot start any token (while scanning for the next token); a tab: YAML indents with spaces",
    ),
    "deep": (
        "tests: " + "[" * 3000 + "]" * 3000 + "\n",
        "*test_nasty.llmops.yaml:1: invalid YAML: *nesting depth*",
    ),
}


def test_nasty_yaml_is_a_clean_collection_error(pytester: pytest.Pytester) -> None:
    for name, (content, message) in NASTY_SUITES.items():
        path = pytester.path / "test_nasty.llmops.yaml"
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        result = pytester.runpytest("--collect-only", "-p", "no:cacheprovider")
        assert result.ret == pytest.ExitCode.INTERRUPTED, name
        result.assert_outcomes(errors=1)
        result.stdout.fnmatch_lines(["*ERROR collecting test_nasty.llmops.yaml*", message])
        out = result.stdout.str()
        assert (
            "Traceback" not in out
            and "INTERNALERROR" not in out
            and "pwned" not in out.replace("echo pwned", "")
        ), name


# --- nonsense on the command line and in the ini file ----------------------------------------------

#: Each --llmops-* option with a value that makes no sense. Every option must be listed.
BAD_OPTIONS = {
    "--llmops-record-mode": ["sometimes"],
    "--llmops-repeat": ["0", "many", "1000000000"],
    "--llmops-concurrency": ["0", "lots"],
    "--llmops-report": [""],
    "--llmops-markdown": [""],
    "--llmops-html": [""],
    "--llmops-github": ["maybe"],
    "--llmops-baseline": ["no-such-report.json"],
    "--llmops-budget": ["lots", "-1"],
    "--llmops-max-cost": ["nan"],
    "--llmops-min-pass-rate": ["150"],
    "--llmops-min-score": ["2"],
    "--llmops-max-p95-latency-ms": ["fast"],
    "--llmops-max-error-rate": ["-0.1"],
    "--llmops-min-judge-agreement": ["1.5", "most"],
    "--llmops-max-new-failures": ["1.5"],
    "--llmops-max-score-drop": ["x"],
    "--llmops-max-cost-increase": ["inf"],
    "--llmops-max-p95-increase": ["ten"],
    "--llmops-min-baseline-match": ["150", "-1%"],
    "--llmops-regression": ["sometimes", "0.05"],
    "--llmops-regression-alpha": ["0", "0.9", "nan", "5"],
    "--llmops-min-win-rate": ["half", "120%"],
    "--llmops-update-lock": ["yes"],
    "--llmops-estimate": ["yes"],
    "--llmops-changed-since": ["no-such-ref-for-llmops"],
    "--llmops-diff": ["no-such-ref-for-llmops"],
    "--llmops-cassette-dir": ["pytest.ini"],  # an existing file
    "--llmops-timeout": ["0", "inf", "soon"],
    "--llmops-max-retries": ["-1", "2.5"],
    "--llmops-retry-backoff": ["slow", "nan"],
    "--llmops-retry-max-backoff": ["-3"],
    "--llmops-case-timeout": ["nan"],
    "--llmops-prices": ["no-such-prices.yaml"],
    "--llmops-judge": ["gpt-4o"],
    "--llmops-embedding": ["nosuch"],
    "--llmops-allowed-hosts": ["http://localhost:8080", "db:port", "db:70000"],
}
#: Each llmops_* ini key with a value that makes no sense; None: any text is a valid value.
BAD_INI: dict[str, list[str] | None] = {
    "llmops_record_mode": ["sometimes"],
    "llmops_repeat": ["1.5", "0"],
    "llmops_concurrency": ["lots"],
    "llmops_suite_glob": None,  # any text is a glob
    "llmops_prompt_dirs": None,  # paths; a folder without prompts holds none
    "llmops_cassette_dir": ["pytest.ini"],  # an existing file
    "llmops_cassette_cache": ["sometimes"],
    "llmops_timeout": ["0", "inf", "soon"],
    "llmops_max_retries": ["-1", "2.5"],
    "llmops_retry_backoff": ["slow", "nan"],
    "llmops_retry_max_backoff": ["-3"],
    "llmops_case_timeout": ["nan"],
    "llmops_prices": ["no-such-prices.yaml"],
    "llmops_judge": ["gpt-4o"],
    "llmops_embedding": ["nosuch"],
    "llmops_report": None,  # a path; one that cannot be written is reported when the run ends
    "llmops_markdown": None,
    "llmops_html": None,
    "llmops_github": ["sometimes"],
    "llmops_baseline": ["no-such-report.json"],
    "llmops_budget": ["lots"],
    "llmops_max_cost": ["-1"],
    "llmops_min_pass_rate": ["150"],
    "llmops_min_score": ["2"],
    "llmops_max_p95_latency_ms": ["fast"],
    "llmops_max_error_rate": ["nan"],
    "llmops_min_judge_agreement": ["120%", "-1"],
    "llmops_max_new_failures": ["1.5"],
    "llmops_max_score_drop": ["x"],
    "llmops_max_cost_increase": ["inf"],
    "llmops_max_p95_increase": ["ten"],
    "llmops_min_baseline_match": ["lots"],
    "llmops_regression": ["yes"],
    "llmops_regression_alpha": ["0%", "1"],
    "llmops_min_win_rate": ["-0.5"],
    "llmops_lock_file": None,  # a path
    "llmops_lock_required": ["maybe"],
    "llmops_python_anywhere": ["sometimes"],
    "llmops_allowed_hosts": ["https://api.local", "a b"],
    "llmops_redact_headers": ["x api key", "x-key:"],
    "llmops_redact_query": ["sub key", "a=b"],
    "llmops_redact_body": ["user email", "$.secret"],
}


def test_every_option_and_ini_key_has_nonsense_to_try(pytestconfig: pytest.Config) -> None:
    """A new option or ini key must join the tables above, so it is tried with nonsense too."""
    parser = pytestconfig._parser
    options = {name for option in parser.getgroup("llmops").options for name in option.names()}
    ini_keys = {name for name in parser._inidict if name.startswith("llmops_")}
    assert options == set(BAD_OPTIONS), "add the missing options to BAD_OPTIONS"
    assert ini_keys == set(BAD_INI), "add the missing ini keys to BAD_INI"


SUITE = "prompt: greeter\nprovider: openai:gpt-4o-mini\ntests:\n  - {name: a, vars: {who: A}, assert: [{type: contains, value: A}]}\n"


def usage_error(pytester: pytest.Pytester, *args: str) -> str:
    write_prompt(pytester.path)
    write(pytester.path / "test_u.llmops.yaml", SUITE)
    result = pytester.runpytest(*args)
    out = result.stdout.str() + result.stderr.str()
    assert result.ret == pytest.ExitCode.USAGE_ERROR, out
    assert "Traceback" not in out and "INTERNALERROR" not in out, out
    return result.stderr.str()


@pytest.mark.parametrize(("option", "value"), [(o, v) for o, values in BAD_OPTIONS.items() for v in values])
def test_a_nonsense_option_is_a_usage_error_naming_it(
    pytester: pytest.Pytester, option: str, value: str
) -> None:
    stderr = usage_error(pytester, f"{option}={value}")
    assert option in stderr, stderr


def _ini_cases() -> list[Any]:
    return [(k, v) for k, values in BAD_INI.items() for v in values or ()]


@pytest.mark.parametrize(("key", "value"), _ini_cases())
def test_a_nonsense_ini_value_is_a_usage_error_naming_it(
    pytester: pytest.Pytester, key: str, value: str
) -> None:
    with (pytester.path / "pytest.ini").open("a") as ini:
        ini.write(f"{key} = {value}\n")
    stderr = usage_error(pytester)
    # The key, or the option that sets the same thing.
    assert key in stderr or key.replace("_", "-") in stderr, stderr


@pytest.mark.parametrize("setting", ["timeout: .inf", "retry_backoff: .inf", "timeout: .nan"])
def test_an_endless_timeout_or_backoff_is_refused_at_collection(workspace: Path, setting: str) -> None:
    # Accepted, it would overflow the clock in the middle of the run.
    suite = f"provider:\n  id: openai:gpt-4o-mini\n  {setting}\ntests:\n  - {{name: a, prompt: hi, assert: [{{type: equals, value: x}}]}}\n"
    error = collect(workspace / "test_inf.llmops.yaml", suite)
    assert isinstance(error, LlmopsError)
    assert f"provider[0].{setting.split(':')[0]}: Input should be a finite number" in str(error)
