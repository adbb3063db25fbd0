"""The settings table (``pytest_llmops.settings``) registered with pytest, and read back from it.

Each row becomes an ini key and a ``--llmops-*`` option in the ``llmops`` group. Precedence is
decided here, once, for every setting: the command line, then the ini file, then the default.
A bad value stops the run with a ``pytest.UsageError`` naming where it came from.
"""

from __future__ import annotations

from typing import Any

import pytest

from ..settings import SETTINGS, Setting, SettingError, Settings, load_settings

__all__ = ["add_options", "read_settings"]

GROUP = "llmops"


def add_options(parser: pytest.Parser) -> None:
    """Register every row of the table (called from ``pytest_addoption``)."""
    group = parser.getgroup(GROUP, "LLM suites (pytest-llmops)")
    for setting in SETTINGS:
        if setting.option:
            # argparse formats help with %, so a literal "95%" must be written "95%%".
            text = setting.help.replace("%", "%%")
            if setting.ini:
                text += f" Overrides the ini key {setting.name}."
            if setting.kind == "flag":
                group.addoption(setting.flag, dest=setting.name, action="store_true", default=None, help=text)
            else:
                group.addoption(
                    setting.flag, dest=setting.name, default=None, metavar=setting.metavar, help=text
                )
        if setting.ini:
            help_text = f"{setting.help} ({setting.form})"
            if setting.kind in ("globs", "paths"):
                parser.addini(setting.name, help_text, type="linelist")
            else:
                parser.addini(setting.name, help_text, type="string")


def read_settings(config: pytest.Config) -> Settings:
    """Every setting's value for this run; a ``pytest.UsageError`` for the first bad one."""

    def option(setting: Setting) -> Any:
        return config.getoption(setting.name)

    def ini(setting: Setting) -> Any:
        return config.getini(setting.name)

    ini_base = config.inipath.parent if config.inipath else config.rootpath
    try:
        return load_settings(option, ini, option_base=config.invocation_params.dir, ini_base=ini_base)
    except SettingError as exc:
        raise pytest.UsageError(str(exc)) from None
