"""pytest's reports, redacted: what the terminal, JUnit XML and xdist's controller are handed.

A test report carries the failure's traceback (with ``--showlocals``, the repr of every local:
an httpx request's headers, a provider's ``headers`` dict), the captured output and logs, and
the user properties. Each is passed through the run's ``Redactor`` as the report is made, before
any other plugin reads it, so no key and no 8-character piece of one is ever printed or written
by pytest. Reports without a secret in them are left as they are (the check is one scan).
"""

from __future__ import annotations

from typing import Any

import pytest

from ..recording.redaction import Redactor

__all__ = ["redact_report"]

#: Attributes of pytest's repr objects that are not text (and need no walking).
_SKIP = frozenset({"style", "lineno"})


def _walk(value: Any, redactor: Redactor, seen: set[int]) -> Any:
    """``value`` with its texts redacted: strings, sequences, and pytest's repr objects in place."""
    if isinstance(value, str):
        return redactor.text(value)
    if isinstance(value, list):
        value[:] = [_walk(v, redactor, seen) for v in value]
        return value
    if isinstance(value, tuple):
        return tuple(_walk(v, redactor, seen) for v in value)
    if isinstance(value, dict):
        return {k: _walk(v, redactor, seen) for k, v in value.items()}
    # Only pytest's own repr objects are walked: a user's object in a property is left alone.
    attributes = getattr(value, "__dict__", None)
    if attributes is None or id(value) in seen or not type(value).__module__.startswith("_pytest."):
        return value
    seen.add(id(value))
    for name, item in list(attributes.items()):
        if name not in _SKIP:
            object.__setattr__(value, name, _walk(item, redactor, seen))
    return value


def _dirty(report: pytest.TestReport | pytest.CollectReport, redactor: Redactor) -> bool:
    """Whether anything the report would print holds a secret."""
    texts = [text for _, text in report.sections]
    if report.longrepr is not None:
        texts.append(str(report.longrepr))
    texts.extend(str(v) for _, v in getattr(report, "user_properties", ()))
    return any(redactor.text(t) != t for t in texts)


def redact_report(report: pytest.TestReport | pytest.CollectReport, redactor: Redactor) -> None:
    """Redact the report's failure, captured sections and properties, in place."""
    if not redactor.secrets() or not _dirty(report, redactor):
        return
    seen: set[int] = set()
    if report.longrepr is not None:
        report.longrepr = _walk(report.longrepr, redactor, seen)
    report.sections = [(title, redactor.text(text)) for title, text in report.sections]
    if isinstance(report, pytest.TestReport) and report.user_properties:
        properties = report.user_properties
        report.user_properties = [(name, _walk(v, redactor, seen)) for name, v in properties]
