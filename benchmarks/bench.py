"""Benchmarks of pytest-llmops against bare pytest (and promptfoo), side by side, as ratios.

Run by hand (never in the test suite), ideally from a lean environment (the package and
pytest-xdist only, as a user's CI has), and it rewrites its section of benchmarks/RESULTS.md:

    python3 -m venv /tmp/perf-lean
    /tmp/perf-lean/bin/pip install -e . pytest-xdist
    /tmp/perf-lean/bin/python benchmarks/bench.py --write
    /tmp/perf-lean/bin/python benchmarks/bench.py --dev-python .venv/bin/python   # + dev plugins
    ... --promptfoo DIR    # also promptfoo's warm-cache eval (cd DIR && npm install promptfoo@0.121.20)

Every reference is measured in the same run, on the same machine, by the same interpreter:

- replay: 1,000 cases with 3 heuristic assertions each, replayed from cassettes (record mode
  ``none``), against bare pytest running 1,000 trivial parametrized tests;
- slope: the same at ``--large`` cases (default 20,000, suites split in files of 5,000): the
  per-case marginal cost (large - 1,000) / (cases - 1,000) of both, and their difference;
  the peak memory of the replaying process;
- import: pytest in a project without suites (one trivial test), with the plugin against
  ``-p no:llmops``; and ``python -X importtime`` of the plugin's module after pytest's;
- xdist: 5,000 replayed cases with ``-n 2`` against the same serially;
- live: calls to the scripted server answering in 250 ms, at concurrency 16 and 64, against
  the ideal: cases x 0.25 s / concurrency + the start-up of bare pytest;
- record: the 1,000 cases recorded (no delay) against their replay;
- collect: 10,000 cases collected against ``--collect-only`` of 10,000 trivial tests.
- scale: ``--scale`` cases (default 100,000, in files of 5,000) and a fifth of them, one run each:
  collection, replay, and the JSON, Markdown, HTML and JUnit reports, as time per case at both
  sizes (equal: linear), and the peak memory of the largest run.

The 1,000 cases are recorded from the scripted server for real; the larger suites' cassettes are
copies of one real recording with the question and answer changed (recording 20,000 cases would
take longer than replaying them many times). A replay that missed a recording fails the run (the
record mode is ``none``), so every timed replay is complete. Each time is the median of
``--repeats`` fresh processes; ours and its reference run alternately, and serial figures are
given in CPU time (user + system of the pytest process) beside wall time: on a shared,
oversubscribed machine the CPU time is what an idle machine's wall time would be, while wall time
also counts waiting for other people's work. The load average is printed with the results;
compare ratios of one run, never times of two.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from pytest_llmops.testing import ScriptedLLMServer

PYTEST_FLAGS = ["-q", "-p", "no:cacheprovider", "-p", "no:randomly"]
#: Runs pytest, then prints the peak RSS of the process (KiB on Linux) and the CPU time of the
#: end of the run (every `pytest_sessionfinish`: gates, reports, junitxml's file, the summary),
#: measured inside the process: a report's cost is then a difference of seconds, not of two runs
#: of several minutes each.
MEASURE = (
    "import resource, sys, time, pytest\n"
    "class Finish:\n"
    "    cpu = 0.0\n"
    "    @pytest.hookimpl(wrapper=True, tryfirst=True)\n"
    "    def pytest_sessionfinish(self):\n"
    "        started = time.process_time()\n"
    "        try:\n"
    "            return (yield)\n"
    "        finally:\n"
    "            Finish.cpu = time.process_time() - started\n"
    "code = pytest.main(sys.argv[1:], plugins=[Finish()])\n"
    "print('PEAK_RSS_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    "print('SESSIONFINISH_CPU_S', Finish.cpu)\n"
    "sys.exit(int(code))\n"
)
PER_FILE = 5000
RESULTS = Path(__file__).with_name("RESULTS.md")


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a measured process: this one's, with byte code written and reused.

    With ``PYTHONDONTWRITEBYTECODE`` set (some machines set it for every process), each run of an
    editable install recompiles and assertion-rewrites every module of the plugin (pytest rewrites
    the package of a ``pytest11`` entry point), about 1.5 s of 1,000 cases' 4.6 s; bare pytest's
    modules are compiled at install time, so it does not pay that. A user's machine writes
    ``__pycache__``: so does every run measured here.
    """
    env = {**os.environ, **(extra or {})}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def run(command: Sequence[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[float, str]:
    started = time.perf_counter()
    proc = subprocess.run(list(command), cwd=cwd, env=child_env(env), capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(
            f"failed ({proc.returncode}): {' '.join(command)}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return elapsed, proc.stdout + proc.stderr


def measure(command: Sequence[str], cwd: Path) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds of the process and its children, output)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall, out = run(command, cwd)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall, cpu, out


@dataclass
class Pair:
    """Medians of ours and of the reference, measured in alternation, and of their differences."""

    wall: float
    cpu: float
    ref_wall: float
    ref_cpu: float
    peak: float
    ref_peak: float
    #: Median of each pair's difference (ours minus the reference, run side by side): for a small
    #: difference, steadier than the difference of the medians when the machine's speed drifts.
    cpu_diff: float = 0.0
    wall_diff: float = 0.0

    @property
    def cpu_ratio(self) -> float:
        return self.cpu / self.ref_cpu

    def ours(self) -> str:
        return f"{self.cpu:.2f} s CPU ({self.wall:.2f} s wall)"

    def ref(self) -> str:
        return f"{self.ref_cpu:.2f} s CPU ({self.ref_wall:.2f} s wall)"

    def ratios(self) -> str:
        return f"**{self.cpu_ratio:.2f}x** CPU ({self.wall / self.ref_wall:.2f}x wall)"


def paired(ours: Sequence[str], cwd: Path, reference: Sequence[str], ref_cwd: Path, repeats: int) -> Pair:
    """Ours and the reference side by side (a burst of load hits both alike), ``repeats`` times
    each, in alternating order (ABBA...: a steady drift of the machine's speed favours neither)."""
    mine, theirs = [], []
    for index in range(repeats):
        if index % 2:
            theirs.append(measure(reference, ref_cwd))
            mine.append(measure(ours, cwd))
        else:
            mine.append(measure(ours, cwd))
            theirs.append(measure(reference, ref_cwd))
    med = statistics.median
    return Pair(
        med(m[0] for m in mine),
        med(m[1] for m in mine),
        med(t[0] for t in theirs),
        med(t[1] for t in theirs),
        med(peak_mb(m[2]) for m in mine),
        med(peak_mb(t[2]) for t in theirs),
        cpu_diff=med(m[1] - t[1] for m, t in zip(mine, theirs, strict=True)),
        wall_diff=med(m[0] - t[0] for m, t in zip(mine, theirs, strict=True)),
    )


def verdict(ratio: float, target: float) -> str:
    return f"<= {target}x (CPU): {'met' if ratio <= target else f'missed by {ratio - target:.2f}x'}"


def median_time(command: Sequence[str], cwd: Path, repeats: int) -> float:
    return statistics.median(run(command, cwd)[0] for _ in range(repeats))


def pytest_cmd(python: str, *args: str, cache: bool = False) -> list[str]:
    """pytest, by default without its cache folder (a fresh CI checkout: no parsed cassettes)."""
    flags = ["-q", "-p", "no:randomly"] if cache else PYTEST_FLAGS
    return [python, "-c", MEASURE, *flags, *args]


def _printed(output: str, label: str) -> str:
    """The value ``MEASURE`` printed after ``label`` (its last line of that label)."""
    return output.rsplit(label, 1)[1].split()[0]


def peak_mb(output: str) -> float:
    return int(_printed(output, "PEAK_RSS_KB")) / 1024


def finish_cpu(output: str) -> float:
    """CPU seconds of the run's end (see ``MEASURE``)."""
    return float(_printed(output, "SESSIONFINISH_CPU_S"))


def write_trivial(root: Path, count: int) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "test_trivial.py").write_text(
        textwrap.dedent(
            f"""
            import pytest

            @pytest.mark.parametrize("i", range({count}))
            def test_trivial(i):
                assert i >= 0
            """
        )
    )
    return root


def write_suite(root: Path, count: int, base_url: str) -> Path:
    """``count`` cases in files of at most 5,000 (``test_qa_<k>.llmops.yaml``)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "prompts").mkdir(exist_ok=True)
    (root / "prompts" / "qa.yaml").write_text(
        "name: qa\nversion: 1.0.0\nmodel: gpt-4o-mini\ntemperature: 0\n"
        "system: Answer briefly.\nuser: 'Question {{ i }}: what is {{ i }} squared?'\n"
    )
    head = [
        "prompt: qa",
        f"provider: {{id: openai:gpt-4o-mini, base_url: '{base_url}'}}",
        "defaults:",
        "  assert:",
        "    - {type: icontains, value: answer}",
        "    - {type: max-length, value: 200}",
        "    - {type: regex, value: '\\d+'}",
        "tests:",
    ]
    for k, start in enumerate(range(0, count, PER_FILE)):
        cases = [f"  - {{name: q{i}, vars: {{i: {i}}}}}" for i in range(start, min(count, start + PER_FILE))]
        (root / f"test_qa_{k}.llmops.yaml").write_text("\n".join(head + cases) + "\n")
    return root


def answer(request: dict[str, object]) -> str:
    messages = request["messages"]
    assert isinstance(messages, list)
    question = str(messages[-1]["content"])
    number = int(question.split()[1].rstrip(":"))
    return f"The answer is {number * number}."


def copy_cassettes(recorded: Path, suite: Path, count: int) -> None:
    """Cassettes for ``suite``'s ``count`` cases, from the real recording of case q7."""
    template = next((recorded / "cassettes" / "test_qa_0").glob("q7[[.]*"))
    # One line per value (no folding), so the question and answer can be replaced as text.
    text = yaml.dump(
        yaml.load(template.read_text(), Loader=yaml.CSafeLoader),
        Dumper=yaml.CSafeDumper,
        width=1 << 30,
    )
    question, reply = "Question 7: what is 7 squared?", "The answer is 49."
    assert question in text and reply in text, "the template cassette is not as expected"
    suffix = template.name[len("q7") :]
    for k, start in enumerate(range(0, count, PER_FILE)):
        folder = suite / "cassettes" / f"test_qa_{k}"
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(start, min(count, start + PER_FILE)):
            body = text.replace(question, f"Question {i}: what is {i} squared?").replace(
                reply, f"The answer is {i * i}."
            )
            (folder / f"q{i}{suffix}").write_text(body)


def load_average() -> str:
    try:
        return ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def import_cost(python: str, cwd: Path, repeats: int) -> tuple[Pair, float]:
    """pytest with the plugin against ``-p no:llmops``; ``-X importtime`` of the plugin (ms)."""
    pair = paired(
        [python, "-c", MEASURE, *PYTEST_FLAGS],
        cwd,
        [python, "-c", MEASURE, *PYTEST_FLAGS, "-p", "no:llmops"],
        cwd,
        repeats,
    )
    own = []
    for _ in range(repeats):
        _, out = run([python, "-X", "importtime", "-c", "import pytest, pytest_llmops.plugin.hooks"], cwd)
        for line in out.splitlines():
            fields = line.split("|")
            if len(fields) == 3 and fields[2].strip() == "pytest_llmops.plugin.hooks":
                own.append(int(fields[1].split(":")[-1].strip()) / 1000)
    return pair, statistics.median(own)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--large", type=int, default=20_000, help="cases of the slope's large run")
    parser.add_argument("--xdist-cases", type=int, default=5000)
    parser.add_argument("--scale", type=int, default=100_000, help="cases of the scale scenario")
    parser.add_argument("--large-repeats", type=int, help="runs per figure at --large (default --repeats)")
    parser.add_argument("--dev-python", help="also replay 1,000 with this interpreter (its plugins)")
    parser.add_argument("--promptfoo", type=Path, help="folder where promptfoo@0.121.20 is installed")
    parser.add_argument("--write", action="store_true", help="rewrite the section of benchmarks/RESULTS.md")
    scenarios = ["replay", "slope", "import", "xdist", "live", "record", "collect", "scale"]
    parser.add_argument("--only", choices=scenarios, action="append")
    args = parser.parse_args()
    only = set(args.only or scenarios)
    python = sys.executable
    rows: list[tuple[str, str, str, str, str]] = []
    loads = [load_average()]
    work = Path(tempfile.mkdtemp(prefix="llmops-bench-"))
    started = time.perf_counter()

    def row(name: str, ours: str, reference: str, ratio: str, target: str) -> None:
        rows.append((name, ours, reference, ratio, target))
        print(" | ".join(rows[-1]), flush=True)

    try:
        with ScriptedLLMServer() as server:
            server.reply(answer)
            recorded = write_suite(work / "r1000", 1000, server.base_url)
            record, _ = run(pytest_cmd(python, "--llmops-record-mode=all"), recorded)
            bare1000 = write_trivial(work / "bare1000", 1000)
            replay_t = bare_t = 0.0
            large_repeats = args.large_repeats or args.repeats
            serial_at: dict[int, float] = {}  # the slope's large replay is xdist's serial reference
            if only & {"replay", "slope", "record"}:
                cold = paired(pytest_cmd(python), recorded, pytest_cmd(python), bare1000, args.repeats)
                replay_t, bare_t = cold.wall, cold.ref_wall
            if "replay" in only:
                row(
                    "replay 1,000 cases x 3 checks (no cache: a fresh checkout)",
                    cold.ours(),
                    f"bare pytest, 1,000 trivial tests: {cold.ref()}",
                    cold.ratios(),
                    verdict(cold.cpu_ratio, 1.25),
                )
                run(pytest_cmd(python, cache=True), recorded)  # fills the cache of parsed cassettes
                warm = paired(
                    pytest_cmd(python, cache=True),
                    recorded,
                    pytest_cmd(python, cache=True),
                    bare1000,
                    args.repeats,
                )
                row(
                    "replay 1,000, pytest's cache kept (parsed cassettes)",
                    warm.ours(),
                    f"bare pytest with its cache: {warm.ref()}",
                    warm.ratios(),
                    verdict(warm.cpu_ratio, 1.25),
                )
                if args.dev_python:
                    dev = paired(
                        pytest_cmd(args.dev_python),
                        recorded,
                        pytest_cmd(args.dev_python),
                        bare1000,
                        args.repeats,
                    )
                    row(
                        "replay 1,000, dev environment (its plugins, hypothesis...)",
                        dev.ours(),
                        f"bare pytest there: {dev.ref()}",
                        dev.ratios(),
                        "(for comparison)",
                    )
            if "record" in only:
                row(
                    "record 1,000 cases (no delay)",
                    f"{record:.2f} s wall (1 run)",
                    f"their replay: {replay_t:.2f} s wall",
                    f"{record / replay_t:.2f}x",
                    "<= 3x (issue 1)",
                )
            if "slope" in only:
                n = args.large
                big = write_suite(work / f"r{n}", n, server.base_url)
                copy_cassettes(recorded, big, n)
                bare_big = write_trivial(work / f"bare{n}", n)
                large = paired(pytest_cmd(python), big, pytest_cmd(python), bare_big, large_repeats)
                serial_at[n] = large.wall
                per = 1000 / (n - 1000)
                ours_cpu, theirs_cpu = (large.cpu - cold.cpu) * per, (large.ref_cpu - cold.ref_cpu) * per
                ours_wall, theirs_wall = (
                    (large.wall - cold.wall) * per,
                    (large.ref_wall - cold.ref_wall) * per,
                )
                row(
                    f"replay {n:,} cases ({-(-n // PER_FILE)} files)",
                    large.ours(),
                    f"bare pytest, {n:,} tests: {large.ref()}",
                    large.ratios(),
                    "linear in cases",
                )
                row(
                    f"slope 1,000 -> {n:,}: ms per case",
                    f"{ours_cpu:.2f} ms CPU ({ours_wall:.2f} wall)",
                    f"bare pytest: {theirs_cpu:.2f} ms CPU ({theirs_wall:.2f} wall)",
                    f"**+{ours_cpu - theirs_cpu:.2f} ms** CPU (+{ours_wall - theirs_wall:.2f} wall)",
                    f"<= +0.5 ms: {'met' if ours_cpu - theirs_cpu <= 0.5 else 'missed'}",
                )
                row(
                    f"peak memory, replaying {n:,}",
                    f"{large.peak:.0f} MB",
                    f"bare pytest: {large.ref_peak:.0f} MB",
                    "",
                    "< 1 GB at 100,000",
                )
            if "xdist" in only:
                n = args.xdist_cases
                suite = work / f"r{n}"
                if not suite.exists():
                    copy_cassettes(recorded, write_suite(suite, n, server.base_url), n)
                serial = serial_at.get(n) or median_time(pytest_cmd(python), suite, large_repeats)
                parallel = median_time(pytest_cmd(python, "-n", "2"), suite, large_repeats)
                speedup = serial / parallel
                row(
                    f"replay {n:,} with -n 2",
                    f"{parallel:.2f} s",
                    f"serial: {serial:.2f} s",
                    f"**{speedup:.2f}x faster**",
                    f">= 1.6x: {'met' if speedup >= 1.6 else 'missed'} ({os.cpu_count()} CPUs)",
                )
            if "live" in only:
                server.reset()
                server.reply(answer, delay=0.25)
                start_t = median_time(pytest_cmd(python), write_trivial(work / "startup", 1), args.repeats)
                for concurrency, cases in ((16, 192), (64, 512)):
                    live = write_suite(work / f"live{concurrency}", cases, server.base_url)
                    live_t = median_time(
                        pytest_cmd(python, "--llmops-record-mode=all", f"--llmops-concurrency={concurrency}"),
                        live,
                        args.repeats,
                    )
                    ideal = cases * 0.25 / concurrency + start_t
                    ratio = live_t / ideal
                    row(
                        f"live {cases} calls x 250 ms, concurrency {concurrency}",
                        f"{live_t:.2f} s",
                        f"ideal {cases} x 0.25 s / {concurrency} + bare start-up {start_t:.2f} s"
                        f" = {ideal:.2f} s",
                        f"**{ratio:.2f}x**",
                        f"<= 1.10x: {'met' if ratio <= 1.10 else 'missed'}",
                    )
            if "scale" in only:
                for scale_row in scale_rows(python, work, recorded, server.base_url, args.scale):
                    row(*scale_row)
            if args.promptfoo and "replay" in only:
                row(*promptfoo_row(args.promptfoo, work, server.base_url, bare_t, args.repeats))
        if "import" in only:
            project = write_trivial(work / "nosuites", 1)
            # A start is half a second: many pairs are cheap, and the difference is small.
            start, own_ms = import_cost(python, project, max(args.repeats * 3, 15))
            extra_cpu = start.cpu_diff * 1000
            row(
                "pytest start, project without suites (median of paired differences)",
                f"{start.cpu * 1000:.0f} ms CPU ({start.wall * 1000:.0f} wall)",
                f"-p no:llmops: {start.ref_cpu * 1000:.0f} ms CPU ({start.ref_wall * 1000:.0f} wall)",
                f"**{extra_cpu:+.0f} ms** CPU ({start.wall_diff * 1000:+.0f} wall)",
                f"<= +50 ms: {'met' if extra_cpu <= 50 else 'missed'}",
            )
            row(
                "-X importtime: pytest_llmops.plugin.hooks after pytest",
                f"{own_ms:.1f} ms",
                "",
                "",
                "<= 50 ms",
            )
        if "collect" in only:
            big = write_suite(work / "collect", 10_000, "http://127.0.0.1:9/v1")
            bare = write_trivial(work / "bare10000", 10_000)
            ours_c = median_time(pytest_cmd(python, "--collect-only"), big, args.repeats)
            theirs_c = median_time(pytest_cmd(python, "--collect-only"), bare, args.repeats)
            row(
                "collect 10,000 cases",
                f"{ours_c:.2f} s",
                f"bare --collect-only, 10,000 tests: {theirs_c:.2f} s",
                f"{ours_c / theirs_c:.2f}x",
                "<= 2x (issue 1)",
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    loads.append(load_average())
    table = render(rows, args, loads, time.perf_counter() - started)
    print(table)
    if args.write:
        # One section per set of scenarios, so a partial run replaces only its own figures.
        tag = "all" if not args.only else " ".join(sorted(set(args.only)))
        begin, end = f"<!-- bench.py {tag}: begin -->", f"<!-- bench.py {tag}: end -->"
        text = RESULTS.read_text() if RESULTS.exists() else "# Benchmarks\n"
        section = f"{begin}\n{table}{end}"
        if begin in text and end in text:
            text = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _: section, text, flags=re.S)
        else:
            text = text.replace("\n", f"\n\n{section}\n", 1)
        RESULTS.write_text(text)
    return 0


REPORT_FLAGS = [
    "--llmops-report=r.json",
    "--llmops-markdown=r.md",
    "--llmops-html=r.html",
    "--junitxml=r.xml",
]


def scale_rows(
    python: str, work: Path, recorded: Path, base_url: str, n: int
) -> list[tuple[str, str, str, str, str]]:
    """At ``n`` cases and at ``n // 5``: collection, replay, the four reports, peak memory.

    Each figure is one run (a run of 100,000 cases takes minutes). Linear means the time per case
    at ``n`` is that at ``n // 5``: the ratio of the two is shown (1.00x: linear).
    """
    sizes = (n // 5, n)
    per_case: dict[str, dict[int, float]] = {
        "collect": {},
        "replay": {},
        "reports": {},
        "finish": {},
        "bare": {},
    }
    peaks: dict[int, tuple[float, float, float]] = {}
    for size in sizes:
        suite = work / f"scale{size}"
        copy_cassettes(recorded, write_suite(suite, size, base_url), size)
        collect, _, _ = measure(pytest_cmd(python, "--collect-only"), suite)
        plain, _, plain_out = measure(pytest_cmd(python), suite)
        reported, _, reported_out = measure(pytest_cmd(python, *REPORT_FLAGS), suite)
        bare_wall, _, bare_out = measure(pytest_cmd(python), write_trivial(work / f"bare-scale{size}", size))
        for name in REPORT_FLAGS:
            written = suite / name.split("=", 1)[1]
            # Each case is in the JSON, HTML and JUnit files; Markdown shows the summary only.
            least = 1 if written.suffix == ".md" else size * 100
            assert written.stat().st_size >= least, f"{written} is too small for {size} cases"
        per_case["collect"][size] = collect / size * 1e6
        per_case["replay"][size] = plain / size * 1e6
        per_case["reports"][size] = (reported - plain) / size * 1e6
        per_case["finish"][size] = (finish_cpu(reported_out) - finish_cpu(plain_out)) / size * 1e6
        per_case["bare"][size] = bare_wall / size * 1e6
        peaks[size] = (peak_mb(plain_out), peak_mb(reported_out), peak_mb(bare_out))
        shutil.rmtree(suite, ignore_errors=True)  # 100,000 cassettes: disk, not needed again
    small, large = sizes
    rows: list[tuple[str, str, str, str, str]] = []
    for key, what in (
        ("collect", "collect (--collect-only), time per case"),
        ("replay", "replay, time per case"),
        ("reports", "JSON + Markdown + HTML + JUnit reports, time per case (two whole runs' difference)"),
        ("finish", "JSON + Markdown + HTML + JUnit reports, CPU per case at the run's end (in-process)"),
    ):
        at_small, at_large = per_case[key][small], per_case[key][large]
        rows.append(
            (
                f"{what}, {small:,} -> {large:,} cases",
                f"{at_small:.0f} -> {at_large:.0f} us",
                f"bare pytest run: {per_case['bare'][small]:.0f} -> {per_case['bare'][large]:.0f} us",
                f"**{at_large / at_small:.2f}x** per case",
                "linear (1.00x)",
            )
        )
    plain_peak, reported_peak, bare = peaks[large]
    for what, peak in (("replaying", plain_peak), ("replaying and writing every report,", reported_peak)):
        rows.append(
            (
                f"peak memory, {what} {large:,} cases",
                f"{peak:.0f} MB",
                f"bare pytest, {large:,} tests: {bare:.0f} MB",
                "",
                f"< 1 GB: {'met' if peak < 1024 else 'missed'}",
            )
        )
    return rows


def promptfoo_row(folder: Path, work: Path, base_url: str, bare_t: float, repeats: int) -> tuple[str, ...]:
    """promptfoo's warm-cache eval of the same 1,000 cases, for scale."""
    import json

    binary = folder.resolve() / "node_modules" / ".bin" / "promptfoo"
    root = work / "promptfoo"
    root.mkdir()
    tests = [
        {
            "vars": {"i": i},
            "assert": [
                {"type": "icontains", "value": "answer"},
                {"type": "javascript", "value": "output.length <= 200"},
                {"type": "regex", "value": "\\d+"},
            ],
        }
        for i in range(1000)
    ]
    config = {
        "prompts": ["Question {{ i }}: what is {{ i }} squared?"],
        "providers": [
            {
                "id": "openai:chat:gpt-4o-mini",
                "config": {"apiBaseUrl": base_url, "apiKey": "sk-fake-benchmark", "temperature": 0},
            }
        ],
        "tests": tests,
    }
    (root / "promptfooconfig.json").write_text(json.dumps(config))
    os.environ.update(
        PROMPTFOO_DISABLE_TELEMETRY="1",
        PROMPTFOO_DISABLE_UPDATE="1",
        PROMPTFOO_CONFIG_DIR=str(work / "pf-config"),
        OPENAI_API_KEY="sk-fake-benchmark",
    )
    command = [str(binary), "eval", "--no-write", "--no-progress-bar"]
    run(command, root)  # warms the cache
    pf_t = median_time(command, root, repeats)
    return (
        "promptfoo eval, warm cache, 1,000",
        f"{pf_t:.2f} s",
        f"bare pytest {bare_t:.2f} s",
        f"{pf_t / bare_t:.2f}x",
        "(for scale)",
    )


def render(rows: Sequence[tuple[str, ...]], args: argparse.Namespace, loads: list[str], took: float) -> str:
    import pytest

    shown = os.path.relpath(sys.executable) if sys.executable.startswith(os.getcwd()) else sys.executable
    command = " ".join([shown, "benchmarks/bench.py", *sys.argv[1:]])
    lines = [
        f"Measured {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC by `{command}`",
        f"({took / 60:.0f} min); medians of {args.repeats} fresh processes per figure"
        f" ({args.large_repeats or args.repeats} at {args.large:,} and {args.xdist_cases:,} cases).",
        "",
        f"- machine: {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"pytest {pytest.__version__}",
        f"- environment: `{sys.prefix}` ({_packages()} packages installed)",
        f"- load average (1, 5, 15 min): {loads[0]} at the start, {loads[1]} at the end",
        "",
        "| scenario | pytest-llmops | reference (same run) | ratio | target |",
        "|---|--:|--:|--:|---|",
    ]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def _packages() -> int:
    from importlib import metadata

    return len({d.metadata["Name"] for d in metadata.distributions()})


if __name__ == "__main__":
    raise SystemExit(main())
