"""Keys never reach what a run prints or writes: secret values are replaced in case results.

Cassettes are scrubbed when they are saved (``cassettes.py``). A case result travels further:
to the terminal, JUnit XML, the JSON and Markdown reports and xdist's reports to the controller.
It can carry a key that a model echoed in its answer, that an API quoted in an error message,
or that an application put in a URL its exception shows. ``redact_result`` replaces the values
of the API-key variables everywhere in a result before anything sees it, and ``redact_logs`` does
the same for the log records of the HTTP clients, which print whole URLs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..results import CaseResult

__all__ = ["HTTP_LOGGERS", "REDACTED", "redact_logs", "redact_result", "redact_text", "usable_secrets"]

REDACTED = "REDACTED"
#: Shorter values are left alone: replacing "1" or "abc" everywhere would garble reports.
MIN_SECRET_LENGTH = 4


def usable_secrets(secrets: Iterable[str]) -> list[str]:
    """The values worth replacing, longest first (a key that contains another goes whole)."""
    return sorted({s for s in secrets if len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True)


_usable = usable_secrets


def redact_text(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret value replaced by ``REDACTED``."""
    for secret in _usable(secrets):
        text = text.replace(secret, REDACTED)
    return text


def _scrub(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, str):
        for secret in secrets:
            if secret in value:
                value = value.replace(secret, REDACTED)
        return value
    if isinstance(value, dict):
        return {_scrub(k, secrets): _scrub(v, secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_scrub(v, secrets) for v in value)
    return value


def redact_result(result: CaseResult, secrets: Iterable[str]) -> CaseResult:
    """The result with every secret value replaced, in every text it holds."""
    usable = _usable(secrets)
    if not usable:
        return result
    data = result.to_dict()
    cleaned = _scrub(data, usable)
    return result if cleaned == data else type(result).from_dict(cleaned)


#: Loggers that print whole URLs; an application that sends its key in a query string (some
#: gateways want ``?key=``) would otherwise find it in ``--log-file`` and in captured logs.
HTTP_LOGGERS = (
    "httpx",
    "httpx2",
    "openai._base_client",
    "anthropic._base_client",
    "urllib3.connectionpool",
)


class _RedactingFilter(logging.Filter):
    def __init__(self, secrets: Callable[[], Iterable[str]]) -> None:
        super().__init__()
        self._secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = _usable(self._secrets())
        if secrets:
            try:
                message = record.getMessage()
            except Exception:  # a malformed record is the logging module's to report
                return True
            cleaned = redact_text(message, secrets)
            if cleaned != message:
                record.msg, record.args = cleaned, None
        return True


def redact_logs(secrets: Callable[[], Iterable[str]]) -> Callable[[], None]:
    """Redact secrets from the records of ``HTTP_LOGGERS``; returns the function that stops it."""
    log_filter = _RedactingFilter(secrets)
    loggers = [logging.getLogger(name) for name in HTTP_LOGGERS]
    for logger in loggers:
        logger.addFilter(log_filter)

    def remove() -> None:
        for logger in loggers:
            logger.removeFilter(log_filter)

    return remove
