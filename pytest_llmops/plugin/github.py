"""GitHub Actions: the run's annotations printed after the summary, on the controller only.

Registered by ``pytest_configure`` when ``GITHUB_ACTIONS=true`` and ``llmops_github`` is on (the
default); what is printed, and when a gate "nearly" failed, is ``report.github``'s. The step
summary is appended by ``report.write`` with the other reports. Importing this module stays
cheap: it is imported at every start under Actions.
"""

from __future__ import annotations

import os

import pytest

from .state import LlmopsState

__all__ = ["GithubAnnotations", "register_github"]

PLUGIN_NAME = "llmops-github"


def register_github(config: pytest.Config, state: LlmopsState) -> None:
    """Register the annotations under GitHub Actions, unless ``llmops_github = false``."""
    from ..report.github import in_github_actions  # light: no engine, no reports

    if state.settings.github and in_github_actions(os.environ) and not hasattr(config, "workerinput"):
        config.pluginmanager.register(GithubAnnotations(state), PLUGIN_NAME)


class GithubAnnotations:
    """Prints ``::error``/``::warning`` workflow commands for the run the results collector evaluated."""

    def __init__(self, state: LlmopsState) -> None:
        self.state = state

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        collector = self.state.config.pluginmanager.get_plugin("llmops-results")
        evaluation = getattr(collector, "evaluation", None)
        if evaluation is None:
            return  # no LLM case ran
        from ..report.github import annotation_lines, checkout_path

        rootdir = self.state.config.rootpath
        for line in annotation_lines(evaluation, path_of=lambda p: checkout_path(p, rootdir, os.environ)):
            terminalreporter.write_line(line)
