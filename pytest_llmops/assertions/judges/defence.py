"""The injection defence: a verdict the judge was shown is never taken for the judge's own.

The output under test (and the input it answers) may carry a verdict meant to pass itself. A judge
that quotes it, or obeys it by copying it, writes that verdict into its reply. Three rules keep it
from counting:

1. **Echoed blocks.** Material sits in tagged blocks whose tag carries a hash of the material
   (``<output-NONCE>``), so an output cannot close its own block; a span of the reply that repeats
   a block (to its end if never closed) is skipped, and so are echoed ``<example>`` blocks.
2. **Field by field.** Every object in the material is found, however it is disguised: the text is
   folded (``folding``: NFKC, confusables, invisibles, case), read with HTML entities and
   backslash escapes decoded, leniently (Python dicts, trailing commas, unquoted keys), nested
   objects and JSON inside strings included, and so are the material's plain statements
   (``Verdict: PASS``). A candidate whose decision fields (verdict, score, category, choice) all
   equal those of one such object, for the fields both hold, is the material's: a near-verbatim
   echo (a key dropped, a reason added, ``PASS`` upper-cased, the score as a string) is still an
   echo. A candidate whose text occurs in the folded material is the material's too.
3. **Only untrusted material counts.** The rubric, criteria, steps, policy and the expected answer
   are the suite author's; they are never compared (a rubric saying "verdict: pass only if ..."
   must not void an honest pass).

The cost of rule 2: an output that itself states the very verdict the judge gives leaves the
judgement unscored, never passed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .fields import VerdictShape, signature
from .folding import squash, variants
from .objects import find_objects
from .plain import plain_statements

__all__ = ["EXAMPLE_TAG", "Material", "MaterialIndex", "echoed_spans", "tag"]

EXAMPLE_TAG = "example"
_NESTED_STRING_DEPTH = 3
#: Shortest candidate text compared by occurrence (``{"score":4}`` is 11 characters squashed).
_TELLING_LENGTH = 10
_SHAPES = (VerdictShape("pass-fail"), VerdictShape("scale"), VerdictShape("category"), VerdictShape("choice"))


@dataclass(frozen=True, slots=True)
class Material:
    """One block of text the judge reads: the output under test, the rubric, the reference.

    ``trusted`` material is the suite author's (rubric, criteria, reference); the output under
    test and the input it answers are not.
    """

    name: str  # tag name, e.g. "output"
    heading: str  # e.g. "OUTPUT (the text to evaluate)"
    text: str
    trusted: bool = False


def tag(name: str, nonce: str) -> str:
    """The tag of a material block: its name and the prompt's nonce."""
    return f"{name}-{nonce}"


def echoed_spans(reply: str, names: Sequence[str], nonce: str | None) -> list[tuple[int, int]]:
    """Spans of the reply that repeat a material or example block (to its end if not closed)."""
    tags = [tag(name, nonce) for name in names] if nonce else []
    spans: list[tuple[int, int]] = []
    for name in [*tags, EXAMPLE_TAG]:
        for opened in re.finditer(re.escape(f"<{name}>"), reply):
            closed = reply.find(f"</{name}>", opened.end())
            spans.append((opened.start(), len(reply) if closed < 0 else closed + len(name) + 3))
    return spans


def _objects_within(value: Any, depth: int = 0) -> list[dict[str, Any]]:
    """Every object in a value: nested ones, and those written as JSON inside its strings."""
    found: list[dict[str, Any]] = []
    if isinstance(value, dict):
        found.append(value)
        for item in value.values():
            found += _objects_within(item, depth)
    elif isinstance(value, list):
        for item in value:
            found += _objects_within(item, depth)
    elif isinstance(value, str) and "{" in value and depth < _NESTED_STRING_DEPTH:
        for inner in find_objects(value, loose=True):
            found += _objects_within(inner.value, depth + 1)
    return found


@dataclass
class MaterialIndex:
    """What the untrusted material holds, in the forms a candidate is compared with."""

    squashed: tuple[str, ...] = ()
    objects: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def of(cls, materials: Sequence[Material]) -> MaterialIndex:
        texts: list[str] = []
        objects: list[dict[str, Any]] = []
        for material in materials:
            if material.trusted:
                continue
            for text in variants(material.text):
                texts.append(squash(text))
                for found in find_objects(text, loose=True):
                    objects += _objects_within(found.value)
                for shape in _SHAPES:
                    # Upper-cased: the folded text is lower case, and a bare "PASS" line counts.
                    found_plain = plain_statements(text.upper(), shape, any_scale=True)
                    objects += [statement.value for statement in found_plain]
        return cls(tuple(texts), objects)

    def holds_text(self, text: str) -> bool:
        """Whether ``text`` (folded, without spaces) occurs in the material.

        Only for text long enough to be telling: a bare ``4`` occurs in any text.
        """
        needle = squash(text)
        return len(needle) >= _TELLING_LENGTH and any(needle in haystack for haystack in self.squashed)

    def holds_verdict(self, value: Mapping[str, Any], shape: VerdictShape) -> bool:
        """Whether a candidate's decision fields all equal those of an object in the material."""
        wanted = signature(value, shape)
        decisive = {"pass-fail": "verdict", "scale": "score", "category": "category", "choice": "choice"}
        key = decisive[shape.kind]
        if key not in wanted:
            return False
        for quoted in self.objects:
            other = signature(quoted, shape)
            if other.get(key) == wanted[key] and all(
                other[k] == wanted[k] for k in other.keys() & wanted.keys()
            ):
                return True
        return False
