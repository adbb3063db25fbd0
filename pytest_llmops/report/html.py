"""The HTML report: one self-contained file rendered from the JSON report's data.

``--llmops-html=PATH`` (ini ``llmops_html``) writes it at the end of a run; a saved JSON report
(``--llmops-report``) becomes one with ``python -m pytest_llmops html report.json -o
report.html``. Both start from ``build_report``'s dict, so the two files always agree.

The page is a single file: the stylesheet, the script (vanilla JS, ``data/html_report.css`` and
``data/html_report.js``) and the data are inlined, nothing is fetched, and a Content-Security-
Policy allows only the inlined style and script (no network, no other script). The data travels as
JSON in ``<script type="application/json">`` with ``<``, ``>`` and ``&`` written as ``\\u003c``
etc., so an output containing ``</script>`` cannot end the element; the script builds the page
with ``textContent`` and never parses data as HTML, so a model output shows as text and runs nothing.

To keep 5,000-case runs small, the embedded data is packed: repeated strings (rendered prompts,
whose system message is the same for every case; assertion types and reasons) are stored once, a
case names its suite and variant by index, an assertion is a short list, and keys holding nothing
(``null``, ``false``, ``[]``, a zero count) are left out.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import html
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import ReportError
from ..fileio import atomic_write_text
from .json import load_report

__all__ = ["html_chunks", "main", "pack_report", "render_html"]

#: Version of the packed data the page's script reads (not the JSON report's schema_version).
PACK_FORMAT = 1
DATA_ELEMENT_ID = "llmops-data"
_ASSETS = Path(__file__).parent.parent / "data"

# Keys a packed case takes from its suite/variant entry instead of repeating them.
_BY_INDEX = ("suite", "variant", "prompt", "prompt_version", "provider")
# A packed assertion is [type, passed, score, reason, line] (type and reason pooled), plus a dict
# of whatever else differs from these defaults (weight, metric, unscored, raw, keys added later).
_ASSERTION_FIELDS = ("type", "passed", "score", "reason", "line")
_ASSERTION_DEFAULTS: dict[str, Any] = {"weight": 1.0, "metric": None, "unscored": False, "raw": None}
#: Counters left out when zero.
_ZERO_COUNTS = ("retries", "judge_failures")


def _asset(name: str) -> str:
    return (_ASSETS / name).read_text(encoding="utf-8")


def _empty(value: Any) -> bool:
    # 0 and 0.0 are figures (a score of 0 matters); only "nothing" is dropped.
    return value is None or value is False or value == [] or value == {} or value == ""


class _Pool:
    """Each distinct string once; a packed case refers to it by index."""

    def __init__(self) -> None:
        self.strings: list[str] = []
        self._index: dict[str, int] = {}

    def __call__(self, text: str) -> int:
        index = self._index.get(text)
        if index is None:
            index = self._index[text] = len(self.strings)
            self.strings.append(text)
        return index


class _Packer:
    """Packs one case at a time; the suites, variants and strings the cases named, when done.

    Variants come in the summary's order (prompt, SemVer, provider), then any only the cases
    name, as they first appear; suites as they first appear.
    """

    def __init__(self, report: Mapping[str, Any]) -> None:
        self.pool = _Pool()
        self.suites: dict[str, int] = {}
        self.variant_entries: list[dict[str, Any]] = []
        self.variants: dict[str, int] = {}
        summary = report.get("summary") or {}
        for variant in summary.get("variants") or ():
            name = str(variant.get("variant", ""))
            self._variant(
                name, {k: variant.get(k) for k in ("variant", "prompt", "prompt_version", "provider")}
            )

    def _variant(self, name: str, entry: dict[str, Any]) -> int:
        index = self.variants.get(name)
        if index is None:
            index = self.variants[name] = len(self.variant_entries)
            self.variant_entries.append(entry)
        return index

    def _case_variant(self, case: Mapping[str, Any]) -> int:
        name = str(case.get("variant", ""))
        index = self.variants.get(name)
        if index is not None:
            return index
        entry = {
            "variant": name,
            "prompt": case.get("prompt"),
            "prompt_version": case.get("prompt_version"),
            "provider": case.get("provider", ""),
        }
        return self._variant(name, entry)

    def _suite(self, name: str) -> int:
        return self.suites.setdefault(name, len(self.suites))

    def case(self, case: Mapping[str, Any]) -> dict[str, Any]:
        suite = self._suite(str(case.get("suite", "")))
        return _pack_case(case, suite, self._case_variant(case), self.pool)


def _pack_assertion(assertion: Mapping[str, Any], pool: _Pool) -> list[Any]:
    packed: list[Any] = [
        pool(str(assertion.get("type", ""))),
        1 if assertion.get("passed") else 0,
        assertion.get("score"),
        pool(str(assertion.get("reason") or "")),
        assertion.get("line"),
    ]
    rest = {
        k: v
        for k, v in assertion.items()
        if k not in _ASSERTION_FIELDS and not (k in _ASSERTION_DEFAULTS and v == _ASSERTION_DEFAULTS[k])
    }
    if rest:
        packed.append(rest)
    return packed


def _pack_case(case: Mapping[str, Any], suite_index: int, variant_index: int, pool: _Pool) -> dict[str, Any]:
    suite = str(case.get("suite", ""))
    out: dict[str, Any] = {"s": suite_index, "v": variant_index}
    for key, value in case.items():
        if key in _BY_INDEX or _empty(value) or (key in _ZERO_COUNTS and value == 0):
            continue
        if key == "messages":
            out[key] = [[str(m.get("role", "")), pool(str(m.get("content", "")))] for m in value]
        elif key == "assertions":
            out[key] = [_pack_assertion(a, pool) for a in value]
        elif key in ("tokens", "judge_tokens") and isinstance(value, Mapping) and not any(value.values()):
            continue
        elif (
            key == "location"
            and str(value).startswith(suite + ":")
            and str(value)[len(suite) + 1 :].isdigit()
        ):
            out["ln"] = int(str(value)[len(suite) + 1 :])  # "suite:12" is the suite's path and a line
        else:
            out[key] = value
    return out


def _head(report: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "format": PACK_FORMAT,
        "schema_version": report.get("schema_version"),
        "generator": report.get("generator"),
        "created_at": report.get("created_at"),
        "prices_as_of": report.get("prices_as_of"),
        "summary": report.get("summary") or {},
    }


def _tail(report: Mapping[str, Any], packer: _Packer) -> dict[str, Any]:
    return {
        "suites": list(packer.suites),
        "variants": packer.variant_entries,
        "strings": packer.pool.strings,
        # judge_checks: in a suite: the labelled examples, few and small, embedded as they are
        "judge_checks": list(report.get("judge_checks") or ()),
    }


def pack_report(report: Mapping[str, Any]) -> dict[str, Any]:
    """The data the page embeds: the report's summary as is, its cases packed (see the docstring)."""
    packer = _Packer(report)
    cases = [packer.case(case) for case in report.get("cases") or ()]
    return {**_head(report), "cases": cases, **_tail(report, packer)}


def _packed_json(report: Mapping[str, Any], cases: Iterable[Mapping[str, Any]]) -> Iterator[str]:
    """``pack_report``'s data as JSON, inert inside ``<script>``, one case at a time.

    The keys come in another order than ``pack_report``'s (the strings, suites and variants are
    known once every case is packed); JSON objects are unordered, so the data is the same.
    """
    packer = _Packer(report)
    head = _script_json(_head(report))
    yield head[:-1] + ',"cases":['
    for i, case in enumerate(cases):
        yield ("," if i else "") + _script_json(packer.case(case))
    yield "]," + _script_json(_tail(report, packer))[1:]


def _script_json(data: Any) -> str:
    """JSON that is inert inside ``<script>``: no ``</script>``, ``<!--`` or ``&`` can appear in it."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    # Inside JSON these characters only occur in strings, where \\uXXXX means the same thing.
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


def _title(report: Mapping[str, Any]) -> str:
    summary = report.get("summary") or {}
    cases = int(summary.get("cases") or len(report.get("cases") or ()))
    passed = int(summary.get("passed") or 0)
    gates = summary.get("gates") or []
    failed_gates = sum(1 for g in gates if not g.get("passed"))
    verdict = f", {failed_gates} gate(s) failed" if failed_gates else ""
    return f"pytest-llmops: {passed}/{cases} passed{verdict}"


def render_html(report: Mapping[str, Any]) -> str:
    """The whole page for a report dict (``build_report``'s, or a JSON report read back)."""
    return "".join(html_chunks(report))


def html_chunks(report: Mapping[str, Any], cases: Iterable[Mapping[str, Any]] | None = None) -> Iterator[str]:
    """The page in pieces, with ``cases`` (default ``report["cases"]``) packed one at a time."""
    style = _asset("html_report.css")
    script = _asset("html_report.js")
    if "</script" in script.lower() or "</style" in style.lower():  # pragma: no cover - our own assets
        raise ValueError("an inlined asset would close its own element")
    # Only the inlined style and script may run; nothing may be fetched (the file opens offline).
    policy = (
        f"default-src 'none'; script-src {_csp_hash(script)}; style-src {_csp_hash(style)}; "
        "img-src data:; base-uri 'none'; form-action 'none'"
    )
    yield (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{html.escape(policy)}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="generator" content="pytest-llmops">\n'
        f"<title>{html.escape(_title(report))}</title>\n"
        f"<style>{style}</style>\n"
        "</head>\n<body>\n"
        '<noscript><p class="noscript">This report is drawn by JavaScript, which is disabled. '
        "The same data is in the JSON report (--llmops-report).</p></noscript>\n"
        '<div id="app"></div>\n'
        f'<script type="application/json" id="{DATA_ELEMENT_ID}">'
    )
    yield from _packed_json(report, report.get("cases") or () if cases is None else cases)
    yield f"</script>\n<script>{script}</script>\n</body>\n</html>\n"


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m pytest_llmops html report.json [-o report.html]``."""
    parser = argparse.ArgumentParser(
        prog="python -m pytest_llmops html",
        description="Render a pytest-llmops JSON report (--llmops-report) as a self-contained HTML page.",
    )
    parser.add_argument("report", type=Path, help="the JSON report")
    parser.add_argument(
        "-o", "--output", type=Path, default=None, help="the HTML file to write (default: REPORT with .html)"
    )
    args = parser.parse_args(argv)
    try:
        report = load_report(args.report)
    except ReportError as exc:
        raise SystemExit(str(exc)) from None
    output: Path = args.output or args.report.with_suffix(".html")
    atomic_write_text(output, render_html(report))
    print(f"wrote HTML report: {output}")
    return 0
