"""The settings of a pytest-llmops command run outside a test session (``python -m pytest_llmops``).

``merge`` must apply the gates a single run would: the same ini file, found the way pytest finds
it (``-c``, ``--rootdir``, ``pytest.ini``, ``pyproject.toml``, ``tox.ini``, ``setup.cfg`` upward
from the current folder), ``addopts`` and ``PYTEST_ADDOPTS``, and ``--llmops-*`` flags. Rather than
copy pytest's search, this asks pytest itself: ``pytest.main`` parses the arguments and reads the
ini file, and a plugin of ours takes the ``Config`` at ``pytest_cmdline_main``, before any session
starts (nothing is collected, no conftest is imported, nothing is run).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pytest

from ..settings import Settings
from .options import read_settings, refuse_space_form

__all__ = ["OfflineSettings", "settings_from_pytest"]


@dataclass
class OfflineSettings:
    """What ``settings_from_pytest`` found: the settings, or pytest's exit status when it stopped."""

    settings: Settings | None
    exit_status: int


class _TakeSettings:
    def __init__(self) -> None:
        self.settings: Settings | None = None

    @pytest.hookimpl(tryfirst=True)
    def pytest_cmdline_main(self, config: pytest.Config) -> int:
        refuse_space_form(config)
        self.settings = read_settings(config)  # a bad value: pytest prints the UsageError, exit 4
        return 0  # stops here: no session, no collection


def settings_from_pytest(args: Sequence[str]) -> OfflineSettings:
    """The settings pytest would read in the current folder with ``args`` (``--llmops-*=...``).

    A bad option or value is printed by pytest (``ERROR: ...``) and its exit status returned.
    """
    taker = _TakeSettings()
    status = pytest.main(["--noconftest", "-p", "no:cacheprovider", *args], plugins=[taker])
    return OfflineSettings(taker.settings, int(status))
