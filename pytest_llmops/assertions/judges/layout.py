"""Where things sit in a judge's reply: reasoning spans, hypotheticals, criterion labels.

The verdict is read from what is left of the reply once these are set aside (``verdict``):

- reasoning spans: ``<think>``, ``<thinking>``, ``<reasoning>``, ``<reflection>``, ``<scratchpad>``,
  ``<analysis>``, ``<draft>``; one never closed runs to the end of the reply, and a closing tag
  without its opening drops everything before it;
- a hypothetical: a candidate introduced by "e.g.", "for example", "such as", "instead of",
  "rather than", "would be", or followed by "would mean", "means", "is an example";
- a criterion label: ``**Politeness**: {...}`` marks a per-criterion verdict, not the overall
  one (unless the label is an overall one: "Final", "Verdict", "Overall", "Revised", ...).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["blank", "hypothetical", "labelled_criterion", "reasoning_spans"]

_REASONING = "think|thinking|reasoning|reflection|scratchpad|analysis|draft"
_REASONING_TAG = re.compile(rf"<(/?)({_REASONING})(?:\s[^>]*)?>", re.IGNORECASE)
_HYPOTHETICAL_BEFORE = re.compile(
    r"(?:\be\.g\.|\beg\b|\bi\.e\.|\bfor (?:example|instance)\b|\bsuch as\b|\bhypothetical\w*|\ban example\b"
    r"|\bexample\s*[:：]|\binstead of\b|\brather than\b"
    r"|\b(?:would|could|might) (?:be|have been|look like|read)\b"
    r"|\bsomething like\b|\bwould have (?:written|given|said)\b)[^\n.!?]*$",
    re.IGNORECASE,
)
_HYPOTHETICAL_AFTER = re.compile(
    r"^[\s\"'`)\]]{0,4}(?:would|could|might|means|indicates|is (?:an|the|just an) example|as an example)\b",
    re.IGNORECASE,
)
_CRITERION_LABEL = re.compile(
    r"(?:^|\n)[ \t>*#\-|]*(?:\d+[.)]\s*)?[*_`]{0,3}([A-Za-z][\w /&'()-]{0,40}?)[*_`]{0,3}"
    r"\s*[:：\-–—]\s*[*_`]{0,3}\s*$"
)
_OVERALL_LABELS = re.compile(
    r"^(?:final|overall|verdict|decision|result|json|answer|output|reply|response|here|my|summary|assessment"
    r"|evaluation|conclusion|judg(?:e)?ment|score|rating|grade|category|the verdict|final verdict"
    r"|final answer"
    r"|final score|overall verdict|overall score|in summary|therefore|so|thus"
    # drafts and revisions are verdicts too (the last one counts), not criteria
    r"|first|initial|draft|revised|revision|on reflection|on second thought|(?:first |second )?thought"
    r"|update|updated|correction|corrected|actually|reconsidered|wait|then|now|again)\b",
    re.IGNORECASE,
)


def reasoning_spans(reply: str) -> list[tuple[int, int]]:
    """Spans of reasoning the verdict must not come from (see the module's rule 2)."""
    spans: list[tuple[int, int]] = []
    opened: int | None = None
    done = 0
    for match in _REASONING_TAG.finditer(reply):
        if not match[1] and opened is None:
            opened = match.start()
        elif match[1] and opened is not None:
            spans.append((opened, match.end()))
            opened, done = None, match.end()
        elif match[1]:  # a closing tag without its opening: what came before was reasoning
            spans.append((done, match.end()))
            done = match.end()
    if opened is not None:
        spans.append((opened, len(reply)))
    return spans


def blank(text: str, spans: Sequence[tuple[int, int]]) -> str:
    """``text`` with ``spans`` turned into spaces: offsets are kept, the content is gone."""
    chars = list(text)
    for start, end in spans:
        chars[start:end] = " " * (end - start)
    return "".join(chars)


def hypothetical(visible: str, start: int, end: int) -> bool:
    line_start = visible.rfind("\n", 0, start) + 1
    clause = visible[max(line_start, start - 160) : start]
    return bool(_HYPOTHETICAL_BEFORE.search(clause) or _HYPOTHETICAL_AFTER.match(visible[end : end + 60]))


def labelled_criterion(visible: str, start: int) -> bool:
    """Whether the candidate follows a criterion label on its line (``**Politeness**: {...}``)."""
    line_start = visible.rfind("\n", 0, start)
    label = _CRITERION_LABEL.search(visible[max(0, line_start) : start])
    return label is not None and not _OVERALL_LABELS.match(label[1].strip())
