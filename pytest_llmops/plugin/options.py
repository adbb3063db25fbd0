"""The settings table (``pytest_llmops.settings``) registered with pytest, and read back from it.

Each row becomes an ini key and a ``--llmops-*`` option in the ``llmops`` group. Precedence is
decided here, once, for every setting: the command line, then the ini file, then the default.
A bad value stops the run with a ``pytest.UsageError`` naming where it came from.
"""

from __future__ import annotations

import contextlib
import os
import shlex
from collections.abc import Sequence
from typing import Any

import pytest

from ..settings import SETTINGS, Setting, SettingError, Settings, load_settings

__all__ = ["add_options", "read_settings", "refuse_space_form"]

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


def space_form(args: Sequence[str]) -> tuple[str, str] | None:
    """The first ``--llmops-option VALUE`` written with a space, as (option, value), or None."""
    flags = {s.flag for s in SETTINGS if s.option and s.kind != "flag"}
    for index, arg in enumerate(args[:-1]):
        if arg == "--":
            break  # what follows is positional, by argparse's rule
        if arg in flags:
            return arg, args[index + 1]
    return None


def refuse_space_form(config: pytest.Config) -> None:
    """Stop a run where an option's value was given with a space (``--llmops-baseline /x/b.json``).

    pytest decides its rootdir and reads its ini file before any plugin adds its options. At that
    moment ``--llmops-baseline`` is unknown, so the value after it is taken for a test path: the
    rootdir moves to the value's folder, the project's ini file (its gates, its lock guard) is not
    read and every case id changes, so a baseline would match nothing and its gates hold while
    checking nothing. The ``=`` form is immune; every option of the table that takes a value
    must be written with it. The command line and ``PYTEST_ADDOPTS`` are checked (``addopts``
    in the ini file is read after the rootdir is decided, so a space is harmless there).
    """
    sources = [("the command line", list(config.invocation_params.args))]
    env = os.environ.get("PYTEST_ADDOPTS", "")
    if env.strip():
        with contextlib.suppress(ValueError):  # pytest reports a malformed PYTEST_ADDOPTS itself
            sources.append(("PYTEST_ADDOPTS", shlex.split(env)))
    for where, args in sources:
        found = space_form(args)
        if found is None:
            continue
        flag, value = found
        raise pytest.UsageError(
            f"{flag} {value} ({where}): write {flag}={value}, with `=`. pytest chooses its rootdir and "
            f"reads its ini file before plugins add their options, so a value given with a space is "
            f"taken for a test path there: the rootdir can move, the ini file (gates, the lock guard) "
            f"go unread and every case id change, and a baseline would then match nothing."
        )
