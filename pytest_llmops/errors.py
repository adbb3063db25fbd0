"""The exceptions pytest-llmops raises, in one tree.

    LlmopsError
    ├── CannotGrade                a check could not reach a verdict (fails, even under `not-`)
    ├── SuiteError                 a suite or prompt file is invalid (collection error)
    │   └── AssertionConfigError   an assertion's configuration is invalid
    ├── PromptError
    │   ├── PromptNotFoundError    a reference matches no prompt or version
    │   ├── PromptConflictError    two files claim the same name and version
    │   ├── PromptRenderError      a template failed to render (undefined variable, sandbox)
    │   ├── InvalidVersionError    a text is not a semantic version (also a ValueError)
    │   ├── InvalidRangeError      a text is not a version range (also a ValueError)
    │   └── LockfileError          the prompt lock file cannot be read, or a version changed
    ├── ProviderError              a model call failed (fails the case, never the session)
    │   ├── ProviderHTTPError      the API answered with an error status
    │   ├── ProviderTimeoutError   the call timed out
    │   ├── ProviderConnectionError  the connection was refused or broken
    │   ├── ProviderResponseError  the API answered with a body we cannot use
    │   └── BudgetExhaustedError   --llmops-budget is spent: no further live call
    ├── VerdictParseError          a judge's reply holds no readable verdict (the check is unscored)
    ├── GitError                   git is missing, or a ref names nothing (--llmops-changed-since)
    ├── ReportError                a report or baseline cannot be read or written
    └── CassetteError              record/replay problems
        ├── CassetteMissingError   record mode forbids a call that has no recording
        │   └── NetworkRefusedError  record mode `none` refused a connection (allowed hosts aside)
        ├── UnattributedCallError  a call belongs to no case, or to one of several (never live)
        ├── CassetteMismatchError  the request no longer matches its recording
        └── CassetteCorruptError   a cassette file cannot be read

None of these modules import pytest, so the prompt registry works in applications too.
"""

from __future__ import annotations

__all__ = [
    "AssertionConfigError",
    "BudgetExhaustedError",
    "CannotGrade",
    "CassetteCorruptError",
    "CassetteError",
    "CassetteMismatchError",
    "CassetteMissingError",
    "GitError",
    "InvalidRangeError",
    "InvalidVersionError",
    "LlmopsError",
    "LockfileError",
    "NetworkRefusedError",
    "PromptConflictError",
    "PromptError",
    "PromptNotFoundError",
    "PromptRenderError",
    "ProviderConnectionError",
    "ProviderError",
    "ProviderHTTPError",
    "ProviderResponseError",
    "ProviderTimeoutError",
    "ReportError",
    "SuiteError",
    "UnattributedCallError",
    "VerdictParseError",
]


class LlmopsError(Exception):
    """Base class of every error pytest-llmops raises on purpose."""


class CannotGrade(LlmopsError):
    """A check could not reach a verdict (``cost`` of an unpriced model, no reference text).

    It fails the assertion with its message; ``not-`` never turns it into a pass.
    """


class SuiteError(LlmopsError):
    """A suite or prompt file is invalid; the message names the file and line."""

    def __init__(self, message: str, *, path: object = None, line: int | None = None) -> None:
        self.path = path
        self.line = line
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line else f"{path}: "
        super().__init__(where + message)
        self.bare_message = message


class AssertionConfigError(SuiteError):
    """An assertion is configured wrongly (bad regex, missing value, unknown type)."""


class PromptError(LlmopsError):
    """Something is wrong with a prompt reference or its rendering."""


class PromptNotFoundError(PromptError):
    """A prompt reference matches no prompt, or no version of it."""


class PromptConflictError(PromptError):
    """Two prompt files claim the same name and version with different content."""


class PromptRenderError(PromptError):
    """A prompt template could not be rendered with the case's variables."""


class InvalidVersionError(PromptError, ValueError):
    """A text is not a semantic version (or a ``Version`` was built from bad parts)."""


class InvalidRangeError(PromptError, ValueError):
    """A text is not a version range."""


class LockfileError(PromptError):
    """The lock file cannot be read, or two prompt files claim one version with different content."""


class VerdictParseError(LlmopsError):
    """A judge reply holds no well-formed verdict; the message says what was missing."""


class GitError(LlmopsError):
    """Git is missing, the folder is not in a repository, or a ref does not exist."""


class ReportError(LlmopsError):
    """A report cannot be written, or a baseline report cannot be read; the message names the file."""


class ProviderError(LlmopsError):
    """A model call failed. The message names the provider, the URL and the cause."""

    #: Whether trying again may help (rate limits, overload, timeouts, refused connections).
    _retryable = False

    @property
    def retryable(self) -> bool:
        return self._retryable

    def __init__(
        self,
        message: str,
        *,
        provider: str = "",
        url: str = "",
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.provider = provider
        self.url = url
        self.status = status
        self.retry_after = retry_after


class ProviderHTTPError(ProviderError):
    """The API answered with a non-2xx status."""

    @property
    def retryable(self) -> bool:
        # Rate limits, overload (Anthropic's 529) and server errors may pass on a later try.
        return self.status in (408, 409, 429) or (self.status or 0) >= 500


class ProviderTimeoutError(ProviderError):
    """Connecting to or reading from the API timed out."""

    _retryable = True


class ProviderConnectionError(ProviderError):
    """The connection was refused, reset or otherwise broken."""

    _retryable = True


class ProviderResponseError(ProviderError):
    """The API answered 2xx with a body that is not the expected shape."""


class BudgetExhaustedError(ProviderError):
    """The live-spending cap (``--llmops-budget``) is reached; replays still run."""


class CassetteError(LlmopsError):
    """A record/replay problem; the message names the cassette and how to fix it."""

    def __init__(self, message: str, *, path: object = None) -> None:
        super().__init__(message)
        self.path = path


class CassetteMissingError(CassetteError):
    """The record mode forbids a live call and the cassette holds no matching recording."""


class NetworkRefusedError(CassetteMissingError, ConnectionRefusedError):
    """In record mode ``none``, code under test tried to open a connection (allowed hosts aside).

    Also a ``ConnectionRefusedError``, so library code that cleans up after a failed connect
    (closing the socket, say) does so as it would for a refused connection.
    """


class UnattributedCallError(CassetteError):
    """An HTTP call was made while several cases ran, from a context that belongs to none of them."""


class CassetteMismatchError(CassetteError):
    """The request differs from the one recorded (a prompt or parameter changed)."""


class CassetteCorruptError(CassetteError):
    """A cassette file exists but cannot be parsed."""
