"""Where a replayed case's CPU time goes: thread CPU time around each step of the replay path.

    python benchmarks/steps.py            # records 1,000 cases against the scripted server, replays them

It records the benchmark's suite (``bench.write_suite``: 1,000 cases, three checks each), then
replays it in a fresh pytest process with this file loaded as a plugin (``-p steps``), which wraps
the steps below and prints their totals. The wrappers cost a little themselves; the figures are
for finding the largest steps, not for the ratios of ``bench.py``.
"""

from __future__ import annotations

import atexit
import collections
import functools
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

_TOTALS: collections.Counter[str] = collections.Counter()
_MARKS: list[float] = []
_ORDER: list[str] = []


def _wrap(owner: Any, name: str, label: str) -> None:
    original = getattr(owner, name)
    _ORDER.append(label)

    @functools.wraps(original)
    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.thread_time()
        try:
            return original(*args, **kwargs)
        finally:
            _TOTALS[label] += time.thread_time() - started

    setattr(owner, name, timed)


def pytest_configure(config: Any) -> None:
    from pytest_llmops.engine import case, pricing
    from pytest_llmops.plugin import items, redact
    from pytest_llmops.providers import openai
    from pytest_llmops.recording import cassette, cassette_cache, redaction, scrub, transport

    for owner, name, label in [
        (items.CaseItem, "runtest", "CaseItem.runtest (everything of the case)"),
        (case.CaseRun, "__init__", "  opening the cassette (CaseRun.__init__)"),
        (cassette_cache, "_parse", "    PyYAML building the cassette's objects"),
        (cassette, "_stored_request", "    the recorded requests read"),
        (case.CaseRun, "call", "  the call (CaseRun.call)"),
        (pricing.PriceTable, "quote", "    pricing (genai-prices)"),
        (openai.OpenAIProvider, "complete", "    the provider reading the reply"),
        (transport.CaseClient, "request", "      the recorded request answered"),
        (redaction.SecretEnvs, "values", "  the secret variables' values read (every call)"),
        (scrub.Scrubber, "request", "  requests scrubbed"),
        (case, "_graded", "  scoring the checks"),
        (case, "render_case", "  rendering the prompt"),
        (redact, "redact_report", "pytest's reports redacted"),
    ]:
        _wrap(owner, name, label)
    _MARKS.append(time.process_time())
    atexit.register(_print)


def pytest_collection_finish(session: Any) -> None:
    _MARKS.append(time.process_time())


def _print() -> None:
    after = time.process_time() - _MARKS[-1]
    collection = _MARKS[-1] - _MARKS[0]
    print(f"\nCPU after collection: {after * 1e3:.0f} ms (collection {collection * 1e3:.0f} ms)")
    for label in _ORDER:
        print(f"{_TOTALS[label] * 1e3:8.0f} ms  {label}")


def main() -> int:
    here = Path(__file__).resolve().parent
    sys.path.insert(0, str(here))
    import bench

    from pytest_llmops.testing import ScriptedLLMServer

    work = Path(tempfile.mkdtemp(prefix="llmops-steps-"))
    with ScriptedLLMServer() as server:
        server.reply(bench.answer)
        suite = bench.write_suite(work / "suite", 1000, server.base_url)
        bench.run(bench.pytest_cmd(sys.executable, "--llmops-record-mode=all"), suite)
    env = bench.child_env({"PYTHONPATH": os.pathsep.join([str(here), os.environ.get("PYTHONPATH", "")])})
    for reference in (False, True):
        folder = bench.write_trivial(work / "bare", 1000) if reference else suite
        print("bare pytest, 1,000 trivial tests:" if reference else "replay of 1,000 cases:", flush=True)
        flags = ["-p", "no:llmops"] if reference else ["-p", "steps"]
        command = [sys.executable, "-m", "pytest", *bench.PYTEST_FLAGS, *flags]
        if reference:  # the plugin's wrappers need the plugin; the reference prints its total only
            command = [sys.executable, "-c", _BARE, *bench.PYTEST_FLAGS, "-p", "no:llmops"]
        output = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True).stdout
        print(output[output.index("\nCPU after") :] if "\nCPU after" in output else output[-2000:])
    return 0


_BARE = (
    "import sys, time, pytest\n"
    "class Mark:\n"
    "    def pytest_collection_finish(self, session):\n"
    "        self.t = time.process_time()\n"
    "mark = Mark()\n"
    "code = pytest.main(sys.argv[1:], plugins=[mark])\n"
    "print(f'\\nCPU after collection: {(time.process_time() - mark.t) * 1e3:.0f} ms')\n"
    "sys.exit(int(code))\n"
)

if __name__ == "__main__":
    sys.exit(main())
