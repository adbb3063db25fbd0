"""Realistic judge replies (tests/data/judge_replies.yaml) are read as a careful person reads them.

Every reply runs through the real check of each judge kind that reads its shape (llm-rubric and
safety; g-eval, relevance and accuracy; factuality; g-eval on 1-10). The guarantee: **no reply
passes unless a person reads a pass**, and none fails unless a person reads a fail. A reply a
person can read but the parser leaves unscored is allowed and counted; the count is pinned, so
a change that reads fewer replies shows here.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from .helpers import KINDS_BY_SHAPE, ScriptedJudge, judge_outcome, outcome_word

CORPUS = Path(__file__).parent / "data" / "judge_replies.yaml"
ENTRIES: list[dict[str, Any]] = yaml.safe_load(CORPUS.read_text(encoding="utf-8"))
#: Judgements a person can read (expected pass or fail) that the parser leaves unscored.
LEFT_UNSCORED = 39

JUDGEMENTS = [
    (entry, shape, kind)
    for entry in ENTRIES
    for shape, kinds in KINDS_BY_SHAPE.items()
    if shape in entry
    for kind in kinds
]


def read(entry: dict[str, Any], shape: str, kind: str) -> str:
    judge = ScriptedJudge(
        entry[shape]["reply"], "I cannot say.", finish_reason=entry.get("finish_reason", "stop")
    )
    return outcome_word(judge_outcome(kind, judge))


def test_the_corpus_is_as_large_and_as_varied_as_measured() -> None:
    counts = Counter(kind for _, _, kind in JUDGEMENTS)
    assert min(counts["llm-rubric"], counts["g-eval"], counts["relevance"]) >= 78, counts
    assert len({entry["id"] for entry in ENTRIES}) == len(ENTRIES)
    expected = Counter(entry[shape]["expected"] for entry, shape, _ in JUDGEMENTS)
    assert set(expected) == {"pass", "fail", "unscored"} and min(expected.values()) >= 60, expected


@pytest.mark.parametrize(
    ("entry", "shape", "kind"), JUDGEMENTS, ids=[f"{e['id']}-{k}" for e, _, k in JUDGEMENTS]
)
def test_a_reply_never_passes_unless_a_person_reads_a_pass(
    entry: dict[str, Any], shape: str, kind: str
) -> None:
    expected = entry[shape]["expected"]
    got = read(entry, shape, kind)
    if expected in ("pass", "fail") and got == "unscored":
        return  # decidable but left unscored: counted below, never wrong
    assert got == expected, f"{entry['id']} as {kind}: expected {expected}, got {got}"


def test_wrong_passes_are_zero_and_decidable_replies_left_unscored_are_counted() -> None:
    tally: Counter[str] = Counter()
    left = []
    for entry, shape, kind in JUDGEMENTS:
        expected, got = entry[shape]["expected"], read(entry, shape, kind)
        if got == "pass" and expected != "pass":
            tally["wrong pass"] += 1
        elif got == "unscored" and expected != "unscored":
            left.append(f"{entry['id']}-{kind}")
        tally[f"{expected}->{got}"] += 1
    print(f"\n{len(JUDGEMENTS)} judgements of {len(ENTRIES)} replies: {dict(tally)}")
    print(f"decidable but left unscored ({len(left)}): {', '.join(left)}")
    assert tally["wrong pass"] == 0
    assert len(left) == LEFT_UNSCORED, left
