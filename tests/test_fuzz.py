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
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from pytest_llmops.assertions import default_registry
from pytest_llmops.cassettes import CaseCassette, CassetteTransport, RecordMode
from pytest_llmops.errors import LlmopsError
from pytest_llmops.prompts import PromptRegistry, RenderedPrompt, load_prompt_file
from pytest_llmops.providers import default_providers
from pytest_llmops.providers.openai import OpenAIProvider
from pytest_llmops.results import Message
from pytest_llmops.schema import (
    AssertionSpec,
    CaseSpec,
    DefaultsSpec,
    PromptFileSpec,
    ProviderSpec,
    SuiteSpec,
)
from pytest_llmops.suite import SuitePlan, load_suite

from .conftest import write, write_prompt

settings.register_profile(
    "default", max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "fuzz", max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


# --- strategies -------------------------------------------------------------------------------


def _keys(*models: Any) -> list[str]:
    return sorted({f.alias or name for model in models for name, f in model.model_fields.items()})


SUITE_KEYS = _keys(SuiteSpec, CaseSpec, DefaultsSpec, AssertionSpec, ProviderSpec)
PROMPT_KEYS = _keys(PromptFileSpec)
ASSERTION_TYPES = [*default_registry.names(), *(f"not-{n}" for n in default_registry.names())]
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

unicode_text = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=30
).filter(lambda s: not s.lstrip().startswith("python"))
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


def suite_documents() -> st.SearchStrategy[dict[Any, Any]]:
    """Suites that are nearly right: the top-level keys, cases and assertions, mangled."""
    assertion = st.fixed_dictionaries(
        {"type": st.one_of(st.sampled_from(ASSERTION_TYPES), scalars)},
        optional={"value": scalars, "threshold": scalars, "weight": scalars, "provider": scalars},
    )
    case = st.fixed_dictionaries(
        {"name": st.one_of(st.text(string.ascii_letters, min_size=1, max_size=8), scalars)},
        optional={
            "vars": st.one_of(st.dictionaries(st.sampled_from(["who", "input"]), scalars), scalars),
            "assert": st.one_of(st.lists(assertion, max_size=3), assertion, scalars),
            "repeat": scalars,
            "reduce": scalars,
            "threshold": scalars,
            "tags": st.one_of(st.lists(unicode_text, max_size=2), scalars),
            "prompt": scalars,
            "skip": scalars,
            "expected": scalars,
        },
    )
    provider = st.one_of(
        st.sampled_from(PROVIDER_IDS),
        st.fixed_dictionaries(
            {"id": st.sampled_from(PROVIDER_IDS)},
            optional={
                "label": scalars,
                "timeout": scalars,
                "max_retries": scalars,
                "temperature": scalars,
                "fallback": scalars,
                "base_url": scalars,
            },
        ),
    )
    return st.fixed_dictionaries(
        {},
        optional={
            "prompt": st.one_of(st.sampled_from(["greeter", "greeter@1.0.0", "nothere"]), scalars),
            "provider": st.one_of(provider, st.lists(provider, max_size=3), scalars),
            "tests": st.one_of(st.lists(case, max_size=4), case, scalars),
            "test_cases": st.one_of(st.lists(case, max_size=2), scalars),
            "defaults": st.one_of(plausible(SUITE_KEYS), st.fixed_dictionaries({}, optional={"assert": st.lists(assertion, max_size=2)})),
            "vars": st.one_of(st.dictionaries(unicode_text, scalars, max_size=3), scalars),
            "judge": st.one_of(st.sampled_from(PROVIDER_IDS), scalars),
            "system": scalars,
            "input_var": scalars,
        },
    ).flatmap(lambda doc: st.dictionaries(st.sampled_from(SUITE_KEYS), scalars, max_size=2).map(lambda extra: {**extra, **doc}))


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
    ": ", "- ", "[", "]", "{", "}", "&a ", "*a", "*nope", "!!python/object/apply:os.system ['echo no']",
    "!!binary xyz", "? ", "|", ">", "---\n", "...\n", "%YAML 1.1\n", "#", "'", '"', "\t", "\x00", "\ufeff",
    "\\u", "~", "<<: *a", "1e999", "0x", "2001-02-03", "!!int abc", "\n  - ", "\u2028", "é", "🙂",
]
raw_yaml = st.lists(st.sampled_from([*YAML_TOKENS, *SUITE_KEYS, "\n", "  ", "x", "1"]), max_size=40).map("".join)
deep_nesting = st.integers(1, 5000).map(lambda n: "tests: " + "[" * n + "]" * n + "\n")


# --- the collection functions under test ----------------------------------------------------------


@pytest.fixture(scope="module")
def workspace() -> Iterator[Path]:
    """One folder for the module: hypothesis runs many examples per test, fixtures once."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        write_prompt(root)
        yield root


def collect(path: Path, text: str | bytes) -> SuitePlan | LlmopsError:
    """What collection makes of a suite file: a plan, or an error that names the file."""
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
    registry = PromptRegistry.from_dir(path.parent / "prompts")
    try:
        return load_suite(
            path,
            prompts=lambda _folder: registry,
            assertions=default_registry,
            providers=default_providers(),
        )
    except LlmopsError as exc:
        assert path.name in str(exc), f"the error does not name the file: {exc}"
        return exc


@given(text=st.one_of(yaml_texts(suite_documents()), raw_yaml, deep_nesting, st.text(max_size=200)))
@example(text="")
@example(text="\ufeff")
@example(text="tests: !!python/object/apply:os.system ['echo pwned']\n")
@example(text="a: &a [*a]\n")
@example(text="provider: openai:gpt-4o-mini\ntests:\n\t- name: x\n")
@example(text="provider: openai:gpt-4o-mini\ntests: [{name: x, repeat: 1e999, assert: [{type: equals}]}]\n")
def test_any_suite_text_collects_or_fails_naming_the_file(workspace: Path, text: str) -> None:
    collect(workspace / "test_fuzz.llmops.yaml", text)


@given(data=st.binary(max_size=200))
@example(data=b"\xff\xfe\x00garbage")
@example(data=b"provider: openai:x\n\x80\x81")
def test_any_suite_bytes_collect_or_fail_naming_the_file(workspace: Path, data: bytes) -> None:
    collect(workspace / "test_bytes.llmops.yaml", data)


@given(text=yaml_texts(plausible(PROMPT_KEYS)))
@example(text="name: p\nversion: 1.0.0\nuser: '{{ unclosed'\n")
@example(text="name: p\nversion: 1e999\nuser: hi\n")
@example(text="name: p\nversion: [1]\nmessages: [{role: robot, content: 1}]\n")
def test_any_prompt_file_loads_or_fails_naming_the_file(workspace: Path, text: str) -> None:
    path = workspace / "fuzzed-prompt.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        load_prompt_file(path)
    except LlmopsError as exc:
        assert path.name in str(exc), f"the error does not name the file: {exc}"
