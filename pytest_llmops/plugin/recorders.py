"""Living beside pytest-recording: never one cassette path, never a key in its files.

The rule, when ``@pytest.mark.vcr`` and the ``llmops`` fixture meet on one test: **the llmops
cassette gets every call made while the fixture is active** (the fixture is set up after
pytest-recording's autouse ``vcr`` fixture, so its patches sit on top of vcrpy's, and the
plugin's own live pool calls below every patch). pytest-recording's cassette only sees calls
made outside that window (by a fixture set up before ``llmops``, say), and:

- it is moved aside when it would share the llmops cassette's path (both default to
  ``cassettes/<test file>/<test>.yaml``): it becomes ``<test>.vcr.yaml``;
- whatever it writes passes through our scrubbing: key headers are stored as ``REDACTED``,
  response cookies are dropped, and the value of every API-key variable is replaced.

pytest-recording calls ``pytest_recording_configure(config, vcr)`` for each marked test; this
module answers it (the hook is optional: without pytest-recording it is never called).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

from ..recording.redaction import REDACTED, redact_text

__all__ = ["CURRENT_ITEM", "configure_vcr"]

#: The item being set up: pytest-recording's hook is not told which test it configures.
CURRENT_ITEM = pytest.StashKey["pytest.Item | None"]()
#: Request headers whose values are stored as REDACTED in pytest-recording's cassettes.
KEY_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "x-api-key", "api-key", "x-goog-api-key", "cookie"}
)


class _RedactingSerializer:
    """vcrpy's serializer, with keys scrubbed from what it writes."""

    def __init__(self, inner: Any, secrets: Callable[[], Iterable[str]]) -> None:
        self._inner = inner
        self._secrets = secrets

    def deserialize(self, text: str) -> Any:
        return self._inner.deserialize(text)

    def serialize(self, data: Any) -> str:
        for interaction in data.get("interactions", ()) if isinstance(data, dict) else ():
            request = interaction.get("request") or {}
            headers = request.get("headers") or {}
            for name in list(headers):
                if str(name).lower() in KEY_HEADERS:
                    headers[name] = [REDACTED]
            response_headers = (interaction.get("response") or {}).get("headers") or {}
            for name in list(response_headers):
                if str(name).lower() == "set-cookie":
                    del response_headers[name]
        return redact_text(self._inner.serialize(data), self._secrets())


class _RedactingPersister:
    """The persister pytest-recording registered, writing through ``_RedactingSerializer``."""

    def __init__(self, inner: Any, secrets: Callable[[], Iterable[str]]) -> None:
        self._inner = inner
        self._secrets = secrets

    def load_cassette(self, cassette_path: Any, serializer: Any) -> Any:
        return self._inner.load_cassette(cassette_path, serializer)

    def save_cassette(self, cassette_path: Any, cassette_dict: Any, serializer: Any) -> None:
        self._inner.save_cassette(
            cassette_path, cassette_dict, _RedactingSerializer(serializer, self._secrets)
        )


def configure_vcr(config: pytest.Config, vcr: Any) -> None:
    """Apply the rule of the module docstring to the VCR pytest-recording built for one test."""
    from .state import state_of

    state = state_of(config)
    session = state.session  # the engine: only in runs where pytest-recording records something
    vcr.persister = _RedactingPersister(vcr.persister, session.secrets)
    item = config.stash.get(CURRENT_ITEM, None)
    if item is None or "llmops" not in getattr(item, "fixturenames", ()):
        return
    ours = session.cassette_path(Path(str(item.path)), item.name).resolve()
    transform = vcr.path_transformer

    library = Path(vcr.cassette_library_dir or ".")

    def aside(path: str) -> str:
        theirs = transform(path) if transform is not None else path
        # vcrpy puts the library folder in front after this transformer has run.
        if (library / theirs).resolve() == ours:
            return str(ours.with_suffix(".vcr.yaml"))
        return str(theirs)

    vcr.path_transformer = aside
