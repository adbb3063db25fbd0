"""A scripted OpenAI- and Anthropic-compatible HTTP server for tests.

The server speaks the real wire formats over a real loopback socket, so the
official SDKs, httpx and vcrpy are exercised end to end.  Replies, errors and
transport faults are scripted with ordered rules::

    with ScriptedLLMServer() as server:
        server.fail(529, times=2)            # two overload errors ...
        server.reply("Paris", match=r"capital of France")  # ... then answers
        client = openai.OpenAI(base_url=server.base_url, api_key="sk-test")

Only the standard library is used and nothing but 127.0.0.1 is ever touched.
This module holds the scripting API; `http` serves it and one `wire_*` module
per wire format shapes the replies.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Final

from .http import POLL_INTERVAL, LoopbackServer
from .rules import (
    Endpoint,
    Fault,
    Matcher,
    RecordedRequest,
    ReplyFn,
    Rule,
    Script,
    ScriptedToolCall,
    TokenLogprob,
    ToolCallsFn,
    UsageOverride,
)

# The rule types its signatures take are re-exported: the scripting API is importable from here.
__all__ = [
    "DEFAULT_MODELS",
    "DEFAULT_REPLY",
    "Endpoint",
    "Fault",
    "Matcher",
    "RecordedRequest",
    "ReplyFn",
    "Rule",
    "ScriptedLLMServer",
    "ScriptedToolCall",
    "TokenLogprob",
    "UsageOverride",
]

DEFAULT_REPLY: Final = "OK"
DEFAULT_MODELS: Final[tuple[str, ...]] = (
    "gpt-4o-mini",
    "text-embedding-3-small",
    "claude-haiku-4-5",
)


class ScriptedLLMServer:
    """Loopback HTTP server answering OpenAI and Anthropic requests from rules."""

    def __init__(
        self,
        *,
        default_reply: str = DEFAULT_REPLY,
        models: Sequence[str] = DEFAULT_MODELS,
    ) -> None:
        self._script = Script(default_reply, models)
        self._closed = False
        self._httpd: LoopbackServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def default_reply(self) -> str:
        """The answer of requests no rule matches (and of rules without a reply)."""
        return self._script.default_reply

    @default_reply.setter
    def default_reply(self, text: str) -> None:
        self._script.default_reply = text

    @property
    def models(self) -> tuple[str, ...]:
        """The model ids that `GET /v1/models` lists."""
        return self._script.models

    @models.setter
    def models(self, models: tuple[str, ...]) -> None:
        self._script.models = tuple(models)

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> ScriptedLLMServer:
        """Bind an ephemeral 127.0.0.1 port and serve in a daemon thread."""
        if self._httpd is not None or self._closed:
            raise RuntimeError("ScriptedLLMServer can only be started once")
        httpd = LoopbackServer(("127.0.0.1", 0), self._script)
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": POLL_INTERVAL},
            name=f"ScriptedLLMServer:{httpd.server_address[1]}",
            daemon=True,
        )
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving, abort open connections and wait for handler threads."""
        if self._closed:
            return
        self._closed = True
        httpd = self._httpd
        if httpd is None:
            return
        # Set first: hang/endless/delay loops watch this event and bail out.
        httpd.closing.set()
        httpd.shutdown()
        httpd.server_close()
        httpd.abort_connections()
        httpd.wait_idle(timeout=5.0)
        if self._thread is not None:
            self._thread.join(timeout=5.0)

    def __enter__(self) -> ScriptedLLMServer:
        return self if self._httpd is not None else self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def port(self) -> int:
        """The bound TCP port."""
        if self._httpd is None:
            raise RuntimeError("server not started")
        return int(self._httpd.server_address[1])

    @property
    def root_url(self) -> str:
        """Base URL without /v1 (what Anthropic clients expect)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """Base URL including /v1 (what OpenAI clients expect)."""
        return f"{self.root_url}/v1"

    # -- scripting ---------------------------------------------------------

    def add_rule(self, rule: Rule) -> Rule:
        """Append `rule`; earlier rules take precedence."""
        self._script.add(rule)
        return rule

    def reply(
        self,
        text: str | ReplyFn | None = None,
        *,
        match: Matcher = None,
        times: int | None = None,
        delay: float = 0.0,
        chunk_delay: float = 0.0,
        headers: Mapping[str, str] | None = None,
        usage: UsageOverride | None = None,
        finish_reason: str | None = None,
        model: str | None = None,
        logprobs: Mapping[str, float] | None = None,
        endpoint: Endpoint | None = None,
        tool_calls: Sequence[ScriptedToolCall] | ToolCallsFn = (),
        tokens: Sequence[TokenLogprob] | None = None,
    ) -> Rule:
        """Answer matching requests with `text` (default: the default reply), tool calls or tokens."""
        return self.add_rule(
            Rule(
                match=match,
                reply=text,
                times=times,
                delay=delay,
                chunk_delay=chunk_delay,
                headers=headers or {},
                usage=usage,
                finish_reason=finish_reason,
                model=model,
                logprobs=logprobs,
                endpoint=endpoint,
                tool_calls=tool_calls,
                tokens=tokens,
            )
        )

    def fail(
        self,
        status: int,
        *,
        message: str | None = None,
        error_type: str | None = None,
        match: Matcher = None,
        times: int | None = None,
        delay: float = 0.0,
        headers: Mapping[str, str] | None = None,
        endpoint: Endpoint | None = None,
    ) -> Rule:
        """Answer matching requests with an API error in the endpoint's shape."""
        return self.add_rule(
            Rule(
                match=match,
                reply=message,
                status=status,
                error_type=error_type,
                times=times,
                delay=delay,
                headers=headers or {},
                endpoint=endpoint,
            )
        )

    def fault(
        self,
        fault: Fault,
        *,
        match: Matcher = None,
        times: int | None = None,
        delay: float = 0.0,
        chunk_delay: float = 0.0,
        text: str | ReplyFn | None = None,
        endpoint: Endpoint | None = None,
    ) -> Rule:
        """Inject a transport or payload fault for matching requests."""
        return self.add_rule(
            Rule(
                match=match,
                reply=text,
                fault=fault,
                times=times,
                delay=delay,
                chunk_delay=chunk_delay,
                endpoint=endpoint,
            )
        )

    def reset(self) -> None:
        """Forget all rules, recorded requests and recorded errors."""
        self._script.clear()

    @property
    def rules(self) -> tuple[Rule, ...]:
        """The scripted rules in precedence order."""
        return self._script.rules

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of the requests received so far, oldest first."""
        return self._script.requests

    @property
    def errors(self) -> list[str]:
        """Tracebacks of unexpected server-side exceptions (should stay empty)."""
        return self._script.errors

    def uses(self, rule: Rule) -> int:
        """How many requests `rule` has answered."""
        return self._script.uses(rule)
