"""The price table, ``llmops_prices`` overrides, and unpriced models (never free)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from pytest_llmops.engine.pricing import (
    GENAI_PROVIDERS,
    PRICES_AS_OF,
    Price,
    PriceTable,
    Quote,
    default_prices,
)
from pytest_llmops.errors import SuiteError
from pytest_llmops.report.json import report_schema
from pytest_llmops.results import Usage
from pytest_llmops.testing import ScriptedLLMServer

from .helpers import (
    CASE_COST,
    USAGE,
    add_ini,
    greet_reply,
    junit_suite_case_properties,
    llmops_section,
    make_suite,
    write,
    write_prompt,
)

THREE = "".join(
    f"""
  - name: {name}
    vars: {{who: {name.title()}}}
    assert:
      - {{type: icontains, value: {name}}}
"""
    for name in ("alice", "bob", "carol")
)


def test_the_builtin_table_is_dated() -> None:
    assert dt.date.fromisoformat(PRICES_AS_OF)


@pytest.mark.parametrize(
    "model",
    [
        "gpt-5",
        "gpt-5-mini",
        "gpt-4.1",
        "gpt-4o",
        "gpt-4o-mini",
        "o3",
        "o4-mini",
        "claude-opus-4-5",
        "claude-sonnet-4-5",
        "claude-haiku-4-5",
        "claude-3-5-haiku",
    ],
)
def test_current_openai_and_anthropic_models_have_prices(model: str) -> None:
    price = default_prices().get(model)
    assert price is not None
    assert 0 < price.input <= price.output
    assert price.cached_input is None or price.cached_input < price.input


def test_snapshots_and_aliases_cost_what_their_family_costs() -> None:
    table = default_prices()
    assert table.get("gpt-4o-2024-08-06") == table.get("gpt-4o")
    assert table.get("claude-sonnet-4-5-20250929") == table.get("claude-sonnet-4-5")
    assert table.get("claude-3-5-haiku-latest") == table.get("claude-3-5-haiku")
    # ... except a snapshot priced on its own
    assert table.get("gpt-4o-2024-05-13") == Price(5.00, 15.00)
    assert table.get("my-model") is None
    assert "gpt-4o-mini" in table and "my-model" not in table


def test_cost_counts_cached_input_at_its_own_price() -> None:
    price = Price(input=2.0, output=8.0, cached_input=0.5)
    usage = Usage(input_tokens=1_000_000, output_tokens=500_000, cached_tokens=400_000)
    assert price.cost(usage) == pytest.approx(0.6 * 2.0 + 0.4 * 0.5 + 0.5 * 8.0)
    # Without a cached price, cached tokens cost the input price.
    assert Price(2.0, 8.0).cost(usage) == pytest.approx(2.0 + 4.0)
    assert default_prices().cost("my-model", usage) is None


def test_override_file_extends_and_replaces(tmp_path: Path) -> None:
    path = write(
        tmp_path / "prices.yaml",
        """
        gpt-4o-mini: {input: 1.0, output: 2.0}
        my-model: {input: 0.5, output: 1.5, cached_input: 0.1}
        """,
    )
    table = default_prices().load_overrides(path)
    assert table.get("gpt-4o-mini") == Price(1.0, 2.0)
    assert table.get("gpt-4o-mini-2024-07-18") == Price(1.0, 2.0)
    assert table.get("my-model") == Price(0.5, 1.5, 0.1)
    assert table.get("gpt-4o") == default_prices().get("gpt-4o")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- gpt-4o", "a price file maps model names to {input, output, cached_input}"),
        ("my-model: {input: 1}", "price of 'my-model' needs `input` and `output`"),
        ("my-model: {input: 1, output: 2, batch: 1}", "price of 'my-model': unknown key(s) ['batch']"),
        ("my-model: {input: cheap, output: 2}", "price of 'my-model': prices must be numbers"),
        ("my-model: {input: -1, output: 2}", "price of 'my-model': prices cannot be negative"),
    ],
)
def test_bad_price_files_name_the_problem(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "prices.yaml"
    path.write_text(text + "\n")
    with pytest.raises(SuiteError, match=r"prices\.yaml") as info:
        PriceTable({}).load_overrides(path)
    assert message in str(info.value)


# -- through pytest ---------------------------------------------------------------------------------


def test_llmops_prices_prices_a_custom_model(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer, fake_keys: object
) -> None:
    llmops_server.reply(greet_reply, usage=USAGE)
    make_suite(pytester.path, llmops_server, THREE, model="my-model")
    write(pytester.path / "config" / "prices.yaml", "my-model: {input: 1.0, output: 2.0}\n")
    add_ini(pytester, "llmops_prices = config/prices.yaml")
    result = pytester.runpytest("--llmops-record-mode=once", "--llmops-report=r.json")
    result.assert_outcomes(passed=3)
    # 1,000 input at $1 and 500 output at $2 per million: $0.002 a case.
    result.stdout.fnmatch_lines(["greeter@1.0.0 × openai:my-model * 3 * 100% * 4500 * 0.006000 *"])
    assert "unpriced" not in result.stdout.str()
    report = json.loads((pytester.path / "r.json").read_text())
    assert report["summary"]["cost_usd"]["app"] == pytest.approx(0.006)
    assert [c["cost_usd"] for c in report["cases"]] == [pytest.approx(0.002)] * 3


def test_a_bad_price_file_is_a_usage_error(pytester: pytest.Pytester) -> None:
    write(pytester.path / "prices.yaml", "my-model: {input: 1}\n")
    add_ini(pytester, "llmops_prices = prices.yaml")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: llmops_prices: *prices.yaml*needs `input` and `output`*"])


def test_unpriced_model_is_warned_once_and_never_free(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer, fake_keys: object
) -> None:
    llmops_server.reply(greet_reply, usage=USAGE)
    make_suite(pytester.path, llmops_server, THREE, model="my-model")
    make_suite(pytester.path, llmops_server, THREE, name="test_priced.llmops.yaml")
    result = pytester.runpytest(
        "--llmops-record-mode=once", "--llmops-report=r.json", "--llmops-markdown=s.md", "--junitxml=j.xml"
    )
    result.assert_outcomes(passed=6)
    section = llmops_section(result.stdout.str())
    warnings = [line for line in section if line.startswith("unpriced:")]
    assert warnings == ["unpriced: my-model (add it to llmops_prices); its cost is unknown, shown as ?"]
    result.stdout.fnmatch_lines(
        [
            "greeter@1.0.0 × openai:gpt-4o-mini * 3 * 100% * 0.001350 *",
            "greeter@1.0.0 × openai:my-model * 3 * 100% * ? *",
            "total * 6 * 100% * 0.001350+? *",
        ]
    )
    report = json.loads((pytester.path / "r.json").read_text())
    summary = report["summary"]
    assert summary["unpriced_models"] == ["my-model"]
    assert summary["unpriced_cases"] == 3
    assert summary["cost_usd"]["app"] == pytest.approx(3 * CASE_COST)  # the priced cases only
    unpriced = [c for c in report["cases"] if c["model"] == "my-model"]
    assert [(c["cost_usd"], c["unpriced"]) for c in unpriced] == [(None, True)] * 3
    markdown = (pytester.path / "s.md").read_text()
    assert "| `greeter@1.0.0 × openai:my-model` | 3 | 100% | 1.00 | 0 | 4,500 | unknown |" in markdown
    assert "$0.001350 + unknown" in markdown
    assert "> unpriced: `my-model` (add it to `llmops_prices`); its cost is unknown" in markdown
    figures = junit_suite_case_properties(pytester.path / "j.xml")
    assert {f["llmops_cost_usd"] for n, f in figures.items() if "my-model" in n} == {"unpriced"}

    # A cost gate cannot be held while a cost is unknown.
    result = pytester.runpytest("--llmops-max-cost=100")
    result.assert_outcomes(passed=6)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "gate FAILED: cost $0.001350 (cost of 3 case(s) unknown: add my-model to llmops_prices): "
            "cannot be shown to be at most $100.00 (llmops_max_cost)"
        ]
    )


# -- genai-prices: cache writes, long-context tiers, provider-aware ids, local models ---------------

genai = pytest.importorskip("genai_prices", reason="genai-prices needs Python 3.11")


def test_cache_writes_cost_the_cache_write_rate() -> None:
    # 100k tokens written to the cache on claude-haiku-4-5: $1.25 per million, not the $1 input rate.
    quote = default_prices().quote("claude-haiku-4-5", Usage(100_000, 0, 0, 100_000), provider="anthropic")
    assert quote.cost_usd == pytest.approx(0.125)
    assert quote.source is not None and quote.source.startswith(f"genai-prices {genai.__version__}")
    # The built-in fallback knows the rate too (for an install without genai-prices).
    assert PriceTable(default_prices()._prices).cost(
        "claude-haiku-4-5", Usage(100_000, 0, 0, 100_000)
    ) == pytest.approx(0.125)


def test_a_long_prompt_is_priced_at_its_long_context_tier() -> None:
    # 300k input on claude-sonnet-4-5 is above the 200k tier: $6 / $22.50, not $3 / $15.
    usage = Usage(input_tokens=300_000, output_tokens=1_000)
    assert default_prices().cost("claude-sonnet-4-5", usage, provider="anthropic") == pytest.approx(1.8225)
    assert default_prices().cost(
        "claude-sonnet-4-5", Usage(100_000, 1_000), provider="anthropic"
    ) == pytest.approx(0.315)


@pytest.mark.parametrize(
    ("model", "provider"),
    [
        ("anthropic/claude-haiku-4.5", "openrouter"),
        ("anthropic.claude-3-5-haiku-20241022-v1:0", "bedrock"),
        ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", "bedrock"),
        ("claude-sonnet-4-5@20250929", "vertex"),
        ("gemini-2.5-flash", "google"),
        ("mistral-small-latest", "mistral"),
        ("gpt-4o-mini", "azure"),
    ],
)
def test_provider_aware_ids_are_priced(model: str, provider: str) -> None:
    quote = default_prices().quote(model, Usage(1_000_000, 1_000_000), provider=provider)
    assert quote.cost_usd is not None and quote.cost_usd > 0, quote
    assert quote.source is not None and "genai-prices" in quote.source


def test_an_openrouter_id_costs_what_openrouter_charges() -> None:
    quote = default_prices().quote(
        "anthropic/claude-haiku-4.5", Usage(1_000_000, 1_000_000), provider="openrouter"
    )
    assert quote.cost_usd == pytest.approx(6.0)  # $1 in + $5 out per million
    assert quote.source is not None and "(openrouter:anthropic/claude-haiku-4.5)" in quote.source


def test_local_models_cost_zero_never_unpriced() -> None:
    from pytest_llmops.engine.pricing import FREE, LOCAL_SOURCE

    table = default_prices()
    assert table.quote("llama3.2", Usage(5_000, 500), provider="ollama") == Quote(0.0, LOCAL_SOURCE)
    assert table.quote("my-vllm-model", Usage(5_000, 500), provider="openai", price=FREE) == Quote(
        0.0, LOCAL_SOURCE
    )
    assert table.quote("my-vllm-model", Usage(5_000, 500), provider="openai").cost_usd is None


def test_an_override_file_wins_over_genai_prices(tmp_path: Path) -> None:
    path = write(
        tmp_path / "prices.yaml", "claude-haiku-4-5: {input: 10.0, output: 20.0, cache_write: 30.0}\n"
    )
    table = default_prices().load_overrides(path)
    quote = table.quote("claude-haiku-4-5", Usage(1_000_000, 1_000_000, 0, 500_000), provider="anthropic")
    assert quote == Quote(pytest.approx(5.0 + 15.0 + 20.0), "llmops_prices prices.yaml")


def test_the_report_says_which_source_priced_each_model(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer, fake_keys: object
) -> None:
    llmops_server.reply(greet_reply, usage=USAGE)
    write_prompt(pytester.path)
    base, root = llmops_server.base_url, llmops_server.root_url
    (pytester.path / "test_greet.llmops.yaml").write_text(
        "prompt: greeter\nprovider:\n"
        f"  - {{id: 'ollama:llama3.2', base_url: '{root}'}}\n"
        f"  - {{id: 'openai:my-local-vllm', base_url: '{base}', price: 0}}\n"
        f"  - {{id: 'openai:my-finetune', base_url: '{base}'}}\n"
        f"  - {{id: 'openai:gpt-4o-mini', base_url: '{base}'}}\n"
        "tests:" + THREE
    )
    write(pytester.path / "prices.yaml", "my-finetune: {input: 1.0, output: 2.0}\n")
    add_ini(pytester, "llmops_prices = prices.yaml")
    result = pytester.runpytest("--llmops-record-mode=once", "--llmops-report=r.json", "-p", "no:randomly")
    result.assert_outcomes(passed=12)
    report = json.loads((pytester.path / "r.json").read_text())
    sources = {s["model"]: s["source"] for s in report["price_sources"]}
    assert sources["llama3.2"] == "local model (price 0)"
    assert sources["my-local-vllm"] == "local model (price 0)"
    assert sources["my-finetune"] == "llmops_prices prices.yaml"
    assert sources["gpt-4o-mini"] == f"genai-prices {genai.__version__} (openai:gpt-4o-mini)"
    assert report["summary"]["unpriced_models"] == []
    local = [c for c in report["cases"] if c["model"] == "llama3.2"]
    assert {c["cost_usd"] for c in local} == {0.0} and not any(c["unpriced"] for c in local)
    import jsonschema

    jsonschema.validate(report, report_schema())


# -- the memo of genai-prices' quotes (a replay prices the same counts again and again) -------------


@pytest.mark.parametrize(
    ("model", "provider", "usage"),
    [
        ("gpt-4o-mini", "openai", Usage(19, 5)),
        ("claude-haiku-4-5", "anthropic", Usage(100_000, 10, 2_000, 50_000)),
        ("claude-sonnet-4-5", "anthropic", Usage(300_000, 1_000)),  # a long-context tier
        ("gemini-2.5-flash", "google", Usage(1_234, 567, 99)),
    ],
)
def test_a_remembered_quote_is_what_genai_prices_says(model: str, provider: str, usage: Usage) -> None:
    table = default_prices()
    first, again = table.quote(model, usage, provider=provider), table.quote(model, usage, provider=provider)
    direct = genai.calc_price(
        genai.Usage(
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cache_read_tokens=usage.cached_tokens,
            cache_write_tokens=usage.cache_write_tokens,
        ),
        model,
        provider_id=GENAI_PROVIDERS[provider],
    )
    assert first == again
    assert first.cost_usd == float(direct.total_price)


def test_the_memo_never_answers_for_other_counts_or_models() -> None:
    table = default_prices()
    costs = {
        (model, n): table.cost(model, Usage(n, n), provider="openai")
        for model in ("gpt-4o-mini", "gpt-4o")
        for n in (1_000, 1_001, 2_000)
    }
    assert len(set(costs.values())) == len(costs)  # six different prices, none served for another
    assert costs[("gpt-4o-mini", 2_000)] == pytest.approx(2 * costs[("gpt-4o-mini", 1_000)])


def test_genai_prices_is_asked_at_the_start_of_the_minute_and_once_per_counts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pytest_llmops.engine import pricing

    asked: list[object] = []
    real = genai.calc_price

    def counting(*args: object, **kwargs: object) -> object:
        asked.append(kwargs["genai_request_timestamp"])
        return real(*args, **kwargs)

    monkeypatch.setattr(genai, "calc_price", counting)
    monkeypatch.setattr(pricing, "_QUOTES", type(pricing._QUOTES)())
    table = default_prices()
    for _ in range(3):
        table.quote("gpt-4o-mini", Usage(7_777, 333), provider="openai")
    table.quote("gpt-4o-mini", Usage(7_777, 334), provider="openai")
    assert len(asked) == 2
    for when in asked:
        assert isinstance(when, dt.datetime) and when.tzinfo is not None
        assert (when.second, when.microsecond) == (0, 0)


def test_the_memo_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_llmops.engine import pricing

    monkeypatch.setattr(pricing, "_QUOTES", type(pricing._QUOTES)())
    monkeypatch.setattr(pricing, "_QUOTES_SIZE", 10)
    table = default_prices()
    for n in range(25):
        table.quote("gpt-4o-mini", Usage(n + 1, 1), provider="openai")
    assert len(pricing._QUOTES) == 10
