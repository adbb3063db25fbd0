"""JUnit XML: each case's figures where the file's family allows them, the whole result nowhere.

pytest's default family, ``xunit2``, allows ``<properties>`` on the ``<testsuite>`` only: there
each case's figures are properties named ``<node id>::llmops_<figure>`` (one ``<properties>`` for
the suite, valid against the xunit2 schema). With ``junit_family = xunit1`` (or ``legacy``) each
``<testcase>`` carries its own ``llmops_*`` properties instead, for tools that read them there.
Either way the simple ``llmops_*`` values are in ``item.user_properties`` for other plugins until
the case's teardown report is made, and on its call report while plugins log it; the call report
alone carries the whole result (to the xdist controller, never into the XML), and keeps it to the
end of the run, so the figures are not held twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import pytest

from ..report.junit import JUNIT_PREFIX, insert_suite_properties, junit_properties
from .state import JUDGE_CHECK_PROPERTY, RESULT_PROPERTY

if TYPE_CHECKING:
    from ..results import CaseResult  # imported with the first case, not at start-up

__all__ = ["add_suite_properties", "case_properties_per_testcase", "is_figure", "shape_report_properties"]

#: Families whose ``<testcase>`` may hold ``<properties>`` ("legacy" is pytest's name for xunit1).
TESTCASE_PROPERTY_FAMILIES = ("xunit1", "legacy")
#: What travels whole on the call report (a case's result, a judge check's), never into the XML.
WHOLE_RESULTS = (RESULT_PROPERTY, JUDGE_CHECK_PROPERTY)


def case_properties_per_testcase(config: pytest.Config) -> bool:
    """True when the JUnit family puts properties on test cases (``junit_family = xunit1``)."""
    # Read from the ini, not from junitxml's writer: xdist workers have no writer, yet decide here.
    return str(config.getini("junit_family")) in TESTCASE_PROPERTY_FAMILIES


def shape_report_properties(item: pytest.Item, when: str, report: pytest.TestReport) -> None:
    """Arrange ``user_properties`` of the item and its reports for JUnit (each phase's report).

    ``CaseItem.runtest`` appends ``("llmops", CaseResult.to_dict())`` to ``item.user_properties``.
    The call report keeps it: it travels to the xdist controller, where the totals are summed.
    junitxml writes the properties of the *teardown* report, which pytest copies from the item
    later; so the item keeps only the simple ``llmops_*`` values, and under xunit2 the teardown
    report drops those too (the suite's properties carry them, see ``add_suite_properties``).
    Once the teardown report is made, the item drops them as well.
    """
    if when == "call":
        _keep_result_out_of_the_item(item, report)
    elif when == "teardown":
        if not case_properties_per_testcase(item.config):
            report.user_properties = [(n, v) for n, v in report.user_properties if not is_figure(n)]
        # The item is kept to the end of the run and its teardown report now holds what JUnit
        # needs: the figures leave the item (about 0.7 KB per case, 70 MB at 100,000 cases).
        if any(is_figure(n) for n, _ in item.user_properties):
            item.user_properties[:] = [(n, v) for n, v in item.user_properties if not is_figure(n)]


def is_figure(name: object) -> bool:
    """True for a simple ``llmops_*`` figure of a case (derived from its whole result)."""
    return name not in WHOLE_RESULTS and str(name).startswith(JUNIT_PREFIX)


def _keep_result_out_of_the_item(item: pytest.Item, report: pytest.TestReport) -> None:
    ours = [
        (name, value)
        for name, value in item.user_properties
        if name in WHOLE_RESULTS and isinstance(value, dict)
    ]
    if not ours:
        return
    data = next((value for name, value in reversed(ours) if name == RESULT_PROPERTY), None)
    simple = junit_properties(data) if data is not None else []
    others = [(n, v) for n, v in item.user_properties if n not in WHOLE_RESULTS and not is_figure(n)]
    item.user_properties[:] = [*others, *simple]
    report.user_properties = [*others, *simple, *ours]


def add_suite_properties(config: pytest.Config, results: Iterable[CaseResult], *, early: bool) -> None:
    """Under xunit2, every case's figures as ``<testsuite>`` properties keyed by node id.

    Called on the controller twice: before junitxml writes its file (``early``) and after. A
    regular file (through any symlink) gets them after, rewritten one property at a time
    (``insert_suite_properties``): junitxml's ``add_global_property`` keeps every one, as a string
    and then an XML element, until the end (0.9 GB at 100,000 cases). A file that cannot be
    rewritten (``/dev/stdout``, a FIFO) gets them early, through ``add_global_property``. A case
    reported more than once (a rerun) keeps its last result, as its ``<testcase>`` does.
    ``OSError``/``ValueError`` if the file cannot be rewritten.
    """
    if case_properties_per_testcase(config):
        return
    found = _junit_writer(config)
    if found is None:
        return
    writer, logfile = found
    # Before junitxml writes, a path that does not exist yet will be a regular file.
    streamable = logfile.is_file() or not logfile.exists()
    if early == streamable:
        return  # the other call's turn
    last = {result.nodeid: result for result in results}
    properties = (
        (f"{nodeid}::{name}", value)
        for nodeid in sorted(last)
        for name, value in junit_properties(last[nodeid].to_dict())
    )
    if early:
        for name, value in properties:
            writer.add_global_property(name, value)
    else:
        insert_suite_properties(logfile, properties)


class _SuiteProperties(Protocol):
    def add_global_property(self, name: str, value: object) -> None: ...


def _junit_writer(config: pytest.Config) -> tuple[_SuiteProperties, Path] | None:
    """junitxml's writer of this run and the file it writes, symlinks resolved (None without
    ``--junitxml``, and on xdist workers)."""
    # pytest has no public handle on its writer, but registers it as a plugin: found there by its
    # public method (the one record_testsuite_property calls) and the path it writes, never
    # through a `_pytest` import.
    for plugin in config.pluginmanager.get_plugins():
        if type(plugin).__name__ == "LogXML" and callable(getattr(plugin, "add_global_property", None)):
            logfile = getattr(plugin, "logfile", None)
            if isinstance(logfile, str) and logfile:
                writer: _SuiteProperties = plugin
                return writer, Path(logfile).resolve()
    return None
