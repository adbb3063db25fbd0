"""The statistics behind a decision, as text: intervals, paired comparisons, reruns.

Shared by the terminal section and the Markdown report, in blocks of their own beside the tables
(the tables keep their columns): each variant's 95% intervals, each paired comparison (version
diffs and the baseline) with the change, its interval, the exact test's p value and the smallest
drop the suite could detect, and what reruns spent.
"""

from __future__ import annotations

from collections.abc import Callable

from ..gates.evaluation import Evaluation
from ..gates.intervals import Interval
from ..gates.paired import POWER, PairedComparison
from ..gates.reruns import RerunSummary
from ..gates.stats import VariantSummary, format_usd, signed

__all__ = [
    "format_p",
    "interval_lines",
    "interval_text",
    "markdown_decisions",
    "paired_text",
    "pairwise_lines",
    "rerun_text",
]


def format_p(p: float) -> str:
    """A p value for people: ``0.75``, ``0.031``, ``<0.001``."""
    if p >= 0.1:
        return f"{p:.2f}"
    return f"{p:.3f}" if p >= 0.001 else "<0.001"


def interval_text(interval: Interval | None, show: Callable[[float], str]) -> str:
    """``[58%, 92%]``; ``[–]`` when there is none (too few cases)."""
    return "[–]" if interval is None else f"[{show(interval.low)}, {show(interval.high)}]"


def _pct(value: float) -> str:
    return f"{value * 100:.0f}%"


def _score(value: float) -> str:
    return f"{value:.2f}"


def _pp(value: float) -> str:
    return f"{signed(value * 100, '.0f')}"


def _signed_score(value: float) -> str:
    return signed(value, ".2f")


def _variant_interval(s: VariantSummary) -> str:
    text = f"pass rate {_pct(s.pass_rate)} {interval_text(s.pass_rate_interval, _pct)}"
    if s.mean_score is not None:
        text += f", mean score {s.mean_score:.2f} {interval_text(s.mean_score_interval, _score)}"
    runs = s.run_pass_rate
    if runs is not None:
        interval = runs["interval"]
        shown = "[–]" if interval is None else f"[{_pct(interval['low'])}, {_pct(interval['high'])}]"
        text += (
            f"; runs {runs['passed']}/{runs['runs']} passed ({_pct(runs['rate'])} {shown}, clustered by case)"
        )
    return text


def interval_lines(evaluation: Evaluation) -> list[str]:
    """The terminal block of 95% intervals: one line per variant, then the total."""
    rows = [*evaluation.variants, *([evaluation.total] if len(evaluation.variants) > 1 else [])]
    lines = ["95% intervals (pass rate: Wilson; mean score: t; the case is the unit):"]
    lines += [f"  {s.variant}: {_variant_interval(s)} ({s.cases} cases)" for s in rows]
    return lines


def _detectable(paired: PairedComparison, alpha: float) -> str:
    rate = paired.pass_rate.detectable(alpha)
    score = paired.score.detectable(alpha) if paired.score is not None else None
    if rate is None:
        return f"no drop is detectable with {POWER:.0%} power with {paired.pairs} case(s)"
    text = f"smallest drop detectable: {rate * 100:.0f} pp"
    if score is not None:
        text += f", score {score:.2f}"
    return text + f" ({POWER:.0%} power, one-sided at {alpha:.3g})"


def paired_text(paired: PairedComparison, alpha: float) -> str:
    """One line: the paired changes, their intervals, the exact tests' p values, the detectable drop."""
    if not paired.pairs:
        return "paired: no case ran on both sides"
    rate = paired.pass_rate
    parts = [
        f"pass rate {_pp(rate.change)} pp {_pp_interval(rate.interval)}, "
        f"McNemar p={format_p(rate.p_value)} ({rate.worse} worse, {rate.better} better)"
    ]
    score = paired.score
    if score is not None:
        parts.append(
            f"mean score {_signed_score(score.change)} {interval_text(score.interval, _signed_score)}, "
            f"sign test p={format_p(score.p_value)}"
        )
    parts.append(_detectable(paired, alpha))
    return f"paired over {paired.pairs} case(s): " + "; ".join(parts)


def _pp_interval(interval: Interval | None) -> str:
    return "[–]" if interval is None else f"[{_pp(interval.low)}, {_pp(interval.high)}]"


def pairwise_lines(evaluation: Evaluation) -> list[str]:
    """Terminal lines of ``pairwise:`` suites: the newer version's win rate, interval, p value."""
    lines = []
    for c in evaluation.pairwise:
        if c.win_rate is None:
            lines.append(f"pairwise {c.label}: no case was judged ({c.unscored} unscored)")
            continue
        lines.append(
            f"pairwise {c.label}: win rate {_pct(c.win_rate)} {interval_text(c.interval, _pct)} over "
            f"{c.cases} case(s): {c.wins} won, {c.ties} tied, {c.losses} lost, "
            f"sign test p={format_p(c.p_value)}"
            + (f"; {c.flips} position flip(s)" if c.flips else "")
            + (f"; {c.unscored} unscored" if c.unscored else "")
        )
    return lines


def rerun_text(reruns: RerunSummary) -> str | None:
    """What earlier attempts spent (None without reruns): never part of the totals."""
    if not reruns.attempts:
        return None
    cost = format_usd(reruns.total_cost_usd) + (" + unknown" if reruns.unpriced else "")
    tokens = reruns.usage.total_tokens + reruns.judge_usage.total_tokens
    return (
        f"reruns: {len(reruns.case_ids)} case(s) ran again ({reruns.attempts} earlier attempt(s)); "
        f"each case counts once, with its last attempt. Spent on reruns, apart from the totals: "
        f"{tokens:,} tokens, {cost}"
    )


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_decisions(evaluation: Evaluation) -> list[str]:
    """The Markdown blocks: 95% intervals per variant, paired comparisons, reruns."""
    rows = [*evaluation.variants, *([evaluation.total] if len(evaluation.variants) > 1 else [])]
    out = [
        "",
        "**95% intervals** (pass rate: Wilson; mean score: t; the case is the unit)",
        "",
        "| variant | cases | pass rate | mean score |",
        "|---|--:|--:|--:|",
    ]
    for s in rows:
        name = "**total**" if s is evaluation.total else f"`{_md(s.variant)}`"
        mean = (
            "–"
            if s.mean_score is None
            else f"{s.mean_score:.2f} {interval_text(s.mean_score_interval, _score)}"
        )
        rate_text = f"{_pct(s.pass_rate)} {interval_text(s.pass_rate_interval, _pct)}"
        out.append(f"| {name} | {s.cases} | {rate_text} | {mean} |")
    if evaluation.comparisons:
        alpha = evaluation.test_alpha
        out += [
            "",
            f"**Paired comparisons** (exact tests; detectable drop at {POWER:.0%} power, "
            f"one-sided at {alpha:.3g})",
            "",
            "| comparison | cases | pass rate change | McNemar p | mean score change | sign test p "
            "| detectable drop |",
            "|---|--:|--:|--:|--:|--:|--:|",
        ]
        for c in evaluation.comparisons:
            p = c.paired
            rate, score = p.pass_rate, p.score
            drop = rate.detectable(alpha) if p.pairs else None
            score_drop = score.detectable(alpha) if score is not None else None
            drop_text = "none at this size" if drop is None else f"{drop * 100:.0f} pp"
            if score_drop is not None:
                drop_text += f", {score_drop:.2f}"
            out.append(
                f"| {_md(c.label)} | {p.pairs} "
                f"| {_pp(rate.change)} pp {_pp_interval(rate.interval)} | {format_p(rate.p_value)} "
                + (
                    f"| {_signed_score(score.change)} {interval_text(score.interval, _signed_score)} "
                    f"| {format_p(score.p_value)} "
                    if score is not None
                    else "| – | – "
                )
                + f"| {drop_text} |"
            )
    if evaluation.pairwise:
        out += [
            "",
            "**Pairwise preference** (judged in both orders; win rate: ties count half)",
            "",
            "| comparison | cases | win rate | won | tied | lost | sign test p | position flips |",
            "|---|--:|--:|--:|--:|--:|--:|--:|",
        ]
        for pw in evaluation.pairwise:
            win = "–" if pw.win_rate is None else f"{_pct(pw.win_rate)} {interval_text(pw.interval, _pct)}"
            out.append(
                f"| {_md(pw.label)} | {pw.cases} | {win} | {pw.wins} | {pw.ties} | {pw.losses} "
                f"| {format_p(pw.p_value)} | {pw.flips} |"
            )
    text = rerun_text(evaluation.rerun_summary)
    if text is not None:
        out += ["", f"> {text}"]
    return out
