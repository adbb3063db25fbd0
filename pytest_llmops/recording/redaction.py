"""The one redaction point: every secret the run knows, and every piece of 8 characters of one.

A key can reach what a run prints or writes by many roads: a model that echoes it, an API that
quotes it in an error, an application that puts it in a URL, pytest's traceback of a request
(``--showlocals`` prints the headers), a DEBUG log line of httpcore or vcrpy, a reason that
quotes the first 17 characters of an output. Every such road ends in ``redact_text``:

- case results (``redact_result``) before the terminal, JUnit, xdist or any report sees them;
- pytest's test and collection reports (tracebacks, their locals, captured output and logs),
  in ``plugin/redact.py``, so the terminal and JUnit XML show only the redacted form;
- every log record created while the plugin is active (``redact_logs``), for ``--log-file``,
  ``caplog``, live logs and captured logs alike;
- the report files (JSON, Markdown, HTML, the step summary) and cassettes, as a last guard.

A secret is the value of a key variable (``SECRET_ENVS``, a provider's ``api_key_env``, the
variables its ``headers``/``query`` name). Its escaped forms (URL, JSON, ``repr``) count too, and
so does any piece of it of ``MIN_PIECE`` characters or more: a truncated or split key is still
a key. Values shorter than ``MIN_SECRET_LENGTH`` are left alone (they would garble reports).
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    from ..results import CaseResult

__all__ = [
    "MIN_PIECE",
    "MIN_SECRET_LENGTH",
    "REDACTED",
    "SECRET_ENVS",
    "Redactor",
    "SecretEnvs",
    "redact_logs",
    "redact_result",
    "redact_text",
    "redact_value",
    "usable_secrets",
]

REDACTED = "REDACTED"
#: Shorter values are left alone: replacing "1" or "abc" everywhere would garble reports.
MIN_SECRET_LENGTH = 4
#: A run of this many characters of a secret is redacted wherever it appears.
MIN_PIECE = 8

#: Environment variables whose values are secrets wherever they appear.
SECRET_ENVS = (
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "AZURE_OPENAI_API_KEY",
    "AZURE_OPENAI_AD_TOKEN",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "GOOGLE_OAUTH_ACCESS_TOKEN",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_BEARER_TOKEN_BEDROCK",
    "OPENROUTER_API_KEY",
    "MISTRAL_API_KEY",
    "LITELLM_API_KEY",
    "OLLAMA_API_KEY",
)


class SecretEnvs:
    """The names of the variables holding secrets; their values are read when asked (thread-safe).

    Asked a few times per case (each report is redacted), so ``values`` reads the environment's
    backing dict where CPython has one (``os.environ._data``, what ``os.environ[name] = ...`` and
    ``monkeypatch.setenv`` update): through the ``Mapping`` interface, 14 lookups cost about
    20 microseconds; straight from the dict, under one.
    """

    def __init__(self, names: Iterable[str] = SECRET_ENVS) -> None:
        self._names = set(names)
        self._lock = threading.Lock()
        self._keys = _environ_keys(self._names)

    def add(self, *names: str | None) -> None:
        with self._lock:
            new = {n for n in names if n} - self._names
            if new:
                self._names |= new
                self._keys = _environ_keys(self._names)  # swapped whole: readers take no lock

    def __contains__(self, name: object) -> bool:
        return name in self._names

    def values(self) -> list[str]:
        """The current values of every named variable that is set, by name."""
        keys = self._keys
        data = _environ_data()
        if data is None:  # pragma: no cover - an os.environ without CPython's backing dict
            return [v for name, _ in keys if (v := os.environ.get(name, "").strip())]
        decode = os.environ.decodevalue
        return [v for _, key in keys if (raw := data.get(key)) is not None and (v := decode(raw).strip())]


def _environ_data() -> dict[Any, Any] | None:
    data = getattr(os.environ, "_data", None)
    return data if isinstance(data, dict) and hasattr(os.environ, "decodevalue") else None


def _environ_keys(names: Iterable[str]) -> tuple[tuple[str, Any], ...]:
    """Each name, sorted, with its key in ``os.environ``'s backing dict (bytes on POSIX)."""
    encode = getattr(os.environ, "encodekey", lambda name: name)
    return tuple((name, encode(name)) for name in sorted(names))


# -- the matcher --------------------------------------------------------------------------------


def _forms(secret: str) -> set[str]:
    """The secret as it may be printed: itself, URL-quoted, JSON- and repr-escaped, as bytes."""
    forms = {secret, quote(secret, safe=""), quote(secret), json.dumps(secret)[1:-1], repr(secret)[1:-1]}
    forms.add(repr(secret.encode("utf-8", "surrogateescape"))[2:-1])
    return {f for f in forms if len(f) >= MIN_SECRET_LENGTH}


def _trie_pattern(words: Iterable[str]) -> str:
    """One regex matching any of ``words``, built as a trie so a scan costs little per character."""
    trie: dict[str, Any] = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def build(node: dict[str, Any]) -> str:
        branches = [re.escape(char) + build(child) for char, child in sorted(node.items()) if char]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        if "" in node:  # a word ends here and longer ones go on
            return f"(?:{body})?"
        return body

    return build(trie)


class _Matcher:
    """Finds secrets and their pieces in text; built once per set of secrets."""

    def __init__(self, secrets: frozenset[str]) -> None:
        forms: set[str] = set()
        for secret in secrets:
            forms |= _forms(secret)
        self.forms = sorted(forms, key=len, reverse=True)
        seeds: set[str] = set()
        for form in self.forms:
            if len(form) < MIN_PIECE:
                seeds.add(form)  # a short key is matched whole only
            else:
                seeds.update(form[i : i + MIN_PIECE] for i in range(len(form) - MIN_PIECE + 1))
        self.pattern = re.compile(_trie_pattern(seeds)) if seeds else None

    def sub(self, text: str) -> str:
        if self.pattern is None:
            return text
        match = self.pattern.search(text)
        if match is None:
            return text
        out: list[str] = []
        done = 0
        while match is not None:
            start, end = match.span()
            # Grow the match while it is still a piece of one secret: the whole run is one key.
            while end < len(text) and any(text[start : end + 1] in form for form in self.forms):
                end += 1
            out.append(text[done:start])
            out.append(REDACTED)
            done = end
            match = self.pattern.search(text, end)
        out.append(text[done:])
        return "".join(out)


@functools.lru_cache(maxsize=32)
def _matcher(secrets: frozenset[str]) -> _Matcher:
    return _Matcher(secrets)


def _usable(secrets: Iterable[str]) -> frozenset[str]:
    return frozenset(s for s in secrets if isinstance(s, str) and len(s) >= MIN_SECRET_LENGTH)


def usable_secrets(secrets: Iterable[str]) -> frozenset[str]:
    """The values worth redacting (long enough that replacing them cannot garble a report)."""
    return _usable(secrets)


def redact_text(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret, escaped form of one and piece of ``MIN_PIECE`` chars replaced."""
    usable = _usable(secrets)
    if not usable or not text:
        return text
    return _matcher(usable).sub(text)


def redact_value(value: Any, secrets: Iterable[str]) -> Any:
    """Strings in nested dicts, lists and tuples redacted; other values as they are."""
    usable = _usable(secrets)
    if not usable:
        return value
    matcher = _matcher(usable)

    def walk(item: Any) -> Any:
        if isinstance(item, str):
            return matcher.sub(item)
        if isinstance(item, dict):
            return {walk(k): walk(v) for k, v in item.items()}
        if isinstance(item, (list, tuple)):
            return type(item)(walk(v) for v in item)
        return item

    return walk(value)


def redact_result(result: CaseResult, secrets: Iterable[str]) -> CaseResult:
    """The result with every secret replaced, in every text it holds."""
    usable = _usable(secrets)
    if not usable:
        return result
    data = result.to_dict()
    cleaned = redact_value(data, usable)
    return result if cleaned == data else type(result).from_dict(cleaned)


class Redactor:
    """The run's redaction: ``secrets`` is asked each time, so keys set during the run count."""

    def __init__(self, secrets: Callable[[], Iterable[str]]) -> None:
        self.secrets = secrets

    def text(self, text: str) -> str:
        return redact_text(text, self.secrets())

    def value(self, value: Any) -> Any:
        return redact_value(value, self.secrets())

    def result(self, result: CaseResult) -> CaseResult:
        return redact_result(result, self.secrets())


# -- log records ----------------------------------------------------------------------------------


def _redacted_record(record: logging.LogRecord, secrets: frozenset[str]) -> None:
    matcher = _matcher(secrets)
    try:
        message = record.getMessage()
    except Exception:  # a malformed record is the logging module's to report
        return
    cleaned = matcher.sub(message)
    if cleaned != message:
        record.msg, record.args = cleaned, None
    if record.exc_info and record.exc_info[1] is not None:
        # Formatted now, redacted, and cached where every formatter looks first.
        text = logging.Formatter().formatException(record.exc_info)
        cleaned = matcher.sub(text)
        if cleaned != text:
            record.exc_text, record.exc_info = cleaned, None
    if record.stack_info:
        record.stack_info = matcher.sub(record.stack_info)


def redact_logs(secrets: Callable[[], Iterable[str]]) -> Callable[[], None]:
    """Redact secrets from every log record created from now on; returns the function that stops it.

    The record factory sees each record as it is made, whatever logger made it (``httpcore``'s
    children, ``vcr.request``, ``urllib3``, ``botocore``, the application's own) and before any
    handler formats it: ``--log-file``, captured logs, ``caplog`` and live logs all get the
    redacted record.
    """
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        usable = _usable(secrets())
        if usable:
            _redacted_record(record, usable)
        return record

    logging.setLogRecordFactory(factory)

    def remove() -> None:
        if logging.getLogRecordFactory() is factory:
            logging.setLogRecordFactory(previous)

    return remove
