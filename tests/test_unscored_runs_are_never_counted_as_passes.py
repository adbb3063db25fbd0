"""Repeated runs with unscored judgements: decided only when every reading of them agrees."""

from __future__ import annotations

import pytest

from pytest_llmops.engine.repeats import reduce_runs
from pytest_llmops.results import CaseResult, Outcome
from pytest_llmops.spec.schema import ReduceRule

P, F, U, E = Outcome.PASSED, Outcome.FAILED, Outcome.UNSCORED, Outcome.ERROR


def runs(*outcomes: Outcome, score: float = 1.0) -> list[CaseResult]:
    scores = {P: score, F: 0.0, U: 1.0, E: None}  # an unscored run may carry the other assertions' score
    return [CaseResult(f"c{i}", "s", "c", o, score=scores[o]) for i, o in enumerate(outcomes)]


@pytest.mark.parametrize(
    ("rule", "outcomes", "expected"),
    [
        # the case: 1 pass and 4 unscored runs is no mean of 1.0
        (ReduceRule("mean"), (P, U, U, U, U), U),
        (ReduceRule("mean"), (P, P, P, P, U), P),  # 4 of 5 at 1.0: even a 0 leaves 0.8 >= 0.7
        (ReduceRule("mean"), (F, F, F, F, U), F),  # even a 1.0 leaves 0.2 < 0.7
        (ReduceRule("mean"), (P, P, P, E, U), U),  # an error scores 0: 0.6 to 0.8 straddles 0.7
        (ReduceRule("pass^k"), (P, P, P, P, U), U),
        (ReduceRule("pass^k"), (P, F, U, U, U), F),
        (ReduceRule("pass@k"), (F, F, P, U, U), P),
        (ReduceRule("pass@k"), (F, F, F, U, U), U),
        (ReduceRule("pass@k"), (F, F, F, F, E), F),
        (ReduceRule("pass_rate", 0.6), (P, P, P, U, U), P),
        (ReduceRule("pass_rate", 0.6), (P, F, F, U, U), U),
        (ReduceRule("pass_rate", 0.6), (P, F, F, F, U), F),
        (ReduceRule("pass^k"), (U, U, E), U),
        (ReduceRule("pass^k"), (E, E, E), E),
    ],
)
def test_unscored_runs_decide_nothing_they_could_change(
    rule: ReduceRule, outcomes: tuple[Outcome, ...], expected: Outcome
) -> None:
    reduced = reduce_runs(runs(*outcomes), rule, threshold=0.7)
    assert reduced.outcome is expected


def test_the_mean_shown_is_over_the_scored_runs_only() -> None:
    reduced = reduce_runs(runs(P, F, U, score=0.9), ReduceRule("mean"), threshold=0.7)
    assert reduced.score == pytest.approx(0.45)
    assert [r["outcome"] for r in reduced.runs] == ["passed", "failed", "unscored"]
