"""What a prompt pull request changed: prompt template diffs, and each affected case's old answer.

The old answer is read from the case's cassette at the ref with the provider's own parser of its
recorded bodies, and scored with today's checks, so the change is measured with one ruler.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from ..assertions.registry import AssertionContext, PreparedAssertion
from ..engine.plan import CasePlan
from ..engine.scoring import combine_scores
from ..errors import InvalidVersionError, LlmopsError
from ..prompts.lockfile import BumpHint, PromptSnapshot, bump_level, suggest_bump, template_diff
from ..prompts.registry import Prompt, load_prompt_file
from ..prompts.versions import Version
from ..results import CaseResult, LLMResponse, Outcome
from .git import ChangeSet, real_path, under
from .impact import PROMPT_SUFFIXES
from .model import BumpSuggestion, CaseDiff, NewAnswer, OldAnswer, PromptDiff, PromptSide

__all__ = ["RecordedReader", "case_diff", "old_answer", "prompt_diffs"]


def _prompt_from_text(text: bytes, path: Path) -> Prompt | None:
    """Parse a prompt file's old content exactly as the registry would."""
    with tempfile.TemporaryDirectory(prefix="llmops-old-") as tmp:
        copy = Path(tmp) / path.name
        copy.write_bytes(text)
        try:
            prompt = load_prompt_file(copy)
        except LlmopsError:
            return None
    return dataclasses.replace(prompt, path=path)


def prompt_diffs(
    changes: ChangeSet, loaded: Mapping[Path, Sequence[Prompt]], *, base: Path
) -> list[PromptDiff]:
    """One entry per prompt version added, edited or removed since the ref, with its template diff.

    A new version is compared with the highest lower version of the same prompt at the ref (the
    one it most likely replaces); a version whose file changed in place, with the same version.
    """
    dirs = list(loaded)
    changed = sorted(p for p in changes.paths if p.suffix in PROMPT_SUFFIXES and under(p, dirs))
    if not changed:
        return []
    changes.prefetch(changed)
    current = {real_path(p.path): p for prompts in loaded.values() for p in prompts}

    def snap(prompt: Prompt) -> PromptSnapshot:
        return PromptSnapshot.from_prompt(prompt, base)

    old: dict[tuple[str, str], PromptSnapshot] = {}
    new: dict[tuple[str, str], PromptSnapshot] = {}
    for path in changed:
        data = changes.old_bytes(path)
        old_prompt = _prompt_from_text(data, path) if data is not None else None
        if old_prompt is not None:
            old[(old_prompt.name, str(old_prompt.version))] = snap(old_prompt)
        if path in current:
            new[(current[path].name, str(current[path].version))] = snap(current[path])
    # At the ref, the prompts whose files did not change were as they are now.
    at_ref = dict(old)
    for path, prompt in current.items():
        if path not in changes:
            at_ref.setdefault((prompt.name, str(prompt.version)), snap(prompt))

    at = changes.ref
    diffs: list[PromptDiff] = []
    replaced: set[tuple[str, str]] = set()
    for key in sorted(new, key=_version_key):
        after = new[key]
        before = old.get(key)
        if before is not None:
            if before.sha256 == after.sha256 and before.path == after.path:
                continue
            change = "edited in place" if before.sha256 != after.sha256 else "moved"
            hint = suggest_bump(before, after) if before.sha256 != after.sha256 else None
            diffs.append(_prompt_entry(change, before, after, at, hint))
            continue
        base_version = _highest_below(key, at_ref)
        if base_version is None:
            diffs.append(
                _prompt_entry(
                    "new prompt" if not _has_name(key[0], at_ref) else "new version", None, after, at, None
                )
            )
            continue
        before = at_ref[base_version]
        if before.path == after.path:
            replaced.add(base_version)  # the same file, its version bumped
        diffs.append(_prompt_entry("new version", before, after, at, suggest_bump(before, after)))
    for key in sorted(old, key=_version_key):
        if (
            key not in new
            and key not in replaced
            and key not in {(p.name, str(p.version)) for p in current.values()}
        ):
            diffs.append(_prompt_entry("deleted", old[key], None, at, None))
    return sorted(diffs, key=lambda d: _version_key((d.prompt, d.version)))


def _version_key(key: tuple[str, str]) -> tuple[str, Any]:
    try:
        return key[0], (0, Version.parse(key[1])._sort_key())
    except InvalidVersionError:
        return key[0], (1, key[1])


def _has_name(name: str, snapshots: Mapping[tuple[str, str], PromptSnapshot]) -> bool:
    return any(n == name for n, _ in snapshots)


def _highest_below(
    key: tuple[str, str], snapshots: Mapping[tuple[str, str], PromptSnapshot]
) -> tuple[str, str] | None:
    try:
        target = Version.parse(key[1])
    except InvalidVersionError:
        return None
    best: tuple[Version, tuple[str, str]] | None = None
    for name, version in snapshots:
        if name != key[0]:
            continue
        try:
            parsed = Version.parse(version)
        except InvalidVersionError:
            continue
        if parsed < target and (best is None or parsed > best[0]):
            best = (parsed, (name, version))
    return best[1] if best else None


def _side(snapshot: PromptSnapshot | None) -> PromptSide | None:
    if snapshot is None:
        return None
    return PromptSide(snapshot.version, snapshot.path, snapshot.sha256, tuple(snapshot.variables))


def _prompt_entry(
    change: str,
    before: PromptSnapshot | None,
    after: PromptSnapshot | None,
    ref: str,
    hint: BumpHint | None,
) -> PromptDiff:
    name = (after or before).name  # type: ignore[union-attr]
    old_label = f"{before.ref} ({ref}:{before.path})" if before else "/dev/null"
    new_label = f"{after.ref} ({after.path})" if after else "/dev/null"
    bump = None
    if hint is not None and before is not None and after is not None:
        actual = bump_level(before.version, after.version)
        enough = actual is not None and _LEVELS[actual] >= _LEVELS[hint.level]
        bump = BumpSuggestion(hint.level, tuple(hint.reasons), actual, enough)
    return PromptDiff(
        prompt=name,
        change=change,
        old=_side(before),
        new=_side(after),
        diff="\n".join(template_diff(before, after, old_label, new_label)),
        suggested_bump=bump,
    )


_LEVELS = {"patch": 0, "minor": 1, "major": 2}


#: Reads the answer out of a recorded response body (a provider's ``read_recorded``).
RecordedReader = Callable[[bytes], LLMResponse | None]


def old_answer(cassette: str, read: RecordedReader) -> LLMResponse | None:
    """The last answer recorded in a cassette's text, read by the case's provider, as replayed."""
    try:
        data = yaml.safe_load(cassette)
    except yaml.YAMLError:
        return None
    interactions = data.get("interactions") if isinstance(data, dict) else None
    for interaction in reversed(interactions if isinstance(interactions, list) else []):
        response = interaction.get("response") if isinstance(interaction, dict) else None
        body = (response.get("body") or {}).get("string") if isinstance(response, dict) else None
        if isinstance(body, str):
            body = body.encode("utf-8")
        if not isinstance(body, bytes) or not isinstance(response, dict):
            continue
        answer = read(body)
        if answer is not None:
            facts = response.get("llmops") if isinstance(response.get("llmops"), dict) else {}
            latency = facts.get("latency_ms") if isinstance(facts, dict) else None
            ms = float(latency) if isinstance(latency, (int, float)) else 0.0
            return dataclasses.replace(answer, latency_ms=ms, replayed=True)
    return None


def _rescore(
    plan: CasePlan, checks: Sequence[PreparedAssertion], answer: LLMResponse
) -> tuple[float | None, bool]:
    """Score an old answer with today's checks, so the change is measured with one ruler."""
    ctx = AssertionContext(
        output=answer.text,
        response=dataclasses.replace(answer, provider=plan.provider.display),
        vars=plan.vars,
        expected=plan.expected,
        case_id=f"{plan.suite_path.name}::{plan.case}",
    )
    return combine_scores(tuple(a.run(ctx) for a in checks), plan.threshold)


def case_diff(
    plan: CasePlan,
    result: CaseResult | None,
    *,
    nodeid: str,
    reasons: Sequence[str],
    ref: str,
    old_cassette: tuple[str, str] | None,
    read: RecordedReader,
    uses_judge: Callable[[str], bool] = lambda _type: False,
) -> CaseDiff:
    """The response at the ref beside the new one, both scored with the current assertions.

    ``old_cassette`` is (path shown, text) of the case's cassette at the ref, if it had one.
    Checks that call a model (judges, embeddings) are not re-run on the old response: that would
    spend money and need recordings of its own. When a case has any, both scores are computed
    from its other checks, and ``compared_without`` names the ones left out.
    """
    offline = [a for a in plan.assertions if not uses_judge(a.spec.type)]
    left_out = tuple(sorted({a.spec.type for a in plan.assertions if uses_judge(a.spec.type)}))
    if old_cassette is None:
        old = OldAnswer(note=f"no recording at {ref}")
    else:
        answer = old_answer(old_cassette[1], read)
        if answer is None:
            old = OldAnswer(cassette=old_cassette[0], note=f"no answer found in the cassette at {ref}")
        else:
            score, passed = _rescore(plan, offline, answer) if offline else (None, None)
            old = OldAnswer(answer.text, score, passed, old_cassette[0])
    new = NewAnswer()
    comparable = None
    if result is not None:
        new = NewAnswer(result.output, result.score, result.outcome.value, result.error)
        comparable = result.score
        if left_out and result.assertions:
            kept = [r for r in result.assertions if not uses_judge(r.type)]
            comparable = combine_scores(kept, plan.threshold)[0] if kept else None
    change = None
    if (
        old.score is not None
        and comparable is not None
        and (result is None or result.outcome is not Outcome.ERROR)
    ):
        change = round(float(comparable) - float(old.score), 6)
    return CaseDiff(
        nodeid=nodeid,
        case=plan.case,
        prompt=plan.prompt.name if plan.prompt else None,
        prompt_version=str(plan.prompt.version) if plan.prompt else None,
        reasons=tuple(reasons),
        old=old,
        new=new,
        score_change=change,
        compared_without=left_out,
    )
