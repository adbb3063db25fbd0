"""``--llmops-estimate``: print what the collected cases are about to send, then stop the run.

The items are collected as usual (so ``-k``, ``-m`` and paths select what is estimated), each
case's prompt is rendered and counted, and the run loop ends before any item runs: no call is
made, nothing is recorded, and pytest exits 0.
"""

from __future__ import annotations

import pytest

from .state import LlmopsState

__all__ = ["DryRun", "print_estimate"]


class DryRun:
    """Registered for ``--llmops-estimate``: ends the run loop before any item runs."""

    def __init__(self, state: LlmopsState) -> None:
        self.state = state

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> bool | None:
        if session.config.option.collectonly:
            return None
        print_estimate(session, self.state)
        return True  # the other loops (pytest's own, xdist's) never start: no item runs


def print_estimate(session: pytest.Session, state: LlmopsState) -> None:
    """Estimate every selected LLM case and print it on the terminal."""
    from ..engine.case import render_case  # deferred with the engine
    from ..engine.estimate import estimate_request, format_estimate, tokenizer
    from ..errors import PromptRenderError
    from .items import CaseItem

    count, method = tokenizer()
    requests = []
    not_counted: list[str] = ["judge calls (their prompts hold answers not given yet)"]
    broken: list[str] = []
    fixture_tests = 0
    engine = state.session if state.started else None
    for item in session.items:
        if not isinstance(item, CaseItem):
            if "llmops" in getattr(item, "fixturenames", ()):
                fixture_tests += 1
            continue
        if item.skipped or engine is None:
            continue
        plan = item.plan
        try:
            rendered = render_case(plan)
        except PromptRenderError as exc:
            broken.append(f"{item.nodeid}: {exc}")
            continue
        runs = engine.repeat_override or plan.repeat or engine.repeat_default
        requests.append(
            estimate_request(
                variant=plan.variant,
                case=plan.case,
                rendered=rendered,
                spec=plan.provider,
                prices=engine.prices,
                runs=runs,
                count=count,
            )
        )
    if fixture_tests:
        not_counted.append(f"{fixture_tests} Python test(s) using the llmops fixture (their calls are code)")
    not_counted += [f"a case whose prompt does not render: {line}" for line in broken]
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    lines = format_estimate(requests, method=method, not_counted=not_counted)
    if reporter is None:
        return
    reporter.write_sep("=", "llmops estimate")
    for line in lines:
        reporter.write_line(line)
