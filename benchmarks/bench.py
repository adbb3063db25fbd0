"""Benchmarks of pytest-llmops against bare pytest and promptfoo, side by side, as ratios.

Run by hand (never in the test suite); results go into benchmarks/RESULTS.md:

    python benchmarks/bench.py                      # all four, pytest-llmops and bare pytest
    python benchmarks/bench.py --promptfoo DIR      # also promptfoo, installed in DIR:
                                                    #   (cd DIR && npm install promptfoo@0.121.20)

Every scenario runs against the project's scripted OpenAI-compatible server on 127.0.0.1:

1. replay: 1,000 cases with 3 heuristic assertions each, all replayed from cassettes, against
   bare pytest running 1,000 trivial parametrized tests (and promptfoo's warm-cache eval).
2. live: 200 cases, 250 ms per call, at concurrency 16, against the ideal 200 x 0.25 s / 16
   plus pytest's start-up (and promptfoo `-j 16`).
3. record: the 1,000 cases of (1) recorded from the server with no delay, against replay time.
4. collect: 10,000 cases collected, against `pytest --collect-only` on 10,000 trivial
   parametrized tests; peak memory of the collecting process.

Each timing is the median of ``--repeats`` runs (default 3) of a fresh process.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Sequence
from pathlib import Path

from pytest_llmops.testing import ScriptedLLMServer

PYTEST_FLAGS = ["-q", "-p", "no:cacheprovider", "-p", "no:randomly"]
# Prints the peak RSS of the pytest process (KiB on Linux) after it ran.
MEASURE = (
    "import resource, sys, pytest\n"
    "code = pytest.main(sys.argv[1:])\n"
    "print('PEAK_RSS_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    "sys.exit(int(code))\n"
)


def run(command: Sequence[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[float, str]:
    started = time.perf_counter()
    proc = subprocess.run(
        list(command), cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True, text=True
    )
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(
            f"failed ({proc.returncode}): {' '.join(command)}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return elapsed, proc.stdout


def median_time(command: Sequence[str], cwd: Path, repeats: int, env: dict[str, str] | None = None) -> float:
    return statistics.median(run(command, cwd, env)[0] for _ in range(repeats))


def pytest_cmd(*args: str) -> list[str]:
    return [sys.executable, "-c", MEASURE, *PYTEST_FLAGS, *args]


def write_trivial(root: Path, count: int) -> None:
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


def write_suite(root: Path, count: int, base_url: str) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "prompts").mkdir(exist_ok=True)
    (root / "prompts" / "qa.yaml").write_text(
        "name: qa\nversion: 1.0.0\nmodel: gpt-4o-mini\ntemperature: 0\n"
        "system: Answer briefly.\nuser: 'Question {{ i }}: what is {{ i }} squared?'\n"
    )
    lines = [
        "prompt: qa",
        f"provider: {{id: openai:gpt-4o-mini, base_url: '{base_url}'}}",
        "defaults:",
        "  assert:",
        "    - {type: icontains, value: answer}",
        "    - {type: max-length, value: 200}",
        "    - {type: regex, value: '\\d+'}",
        "tests:",
    ]
    lines += [f"  - {{name: q{i}, vars: {{i: {i}}}}}" for i in range(count)]
    (root / "test_qa.llmops.yaml").write_text("\n".join(lines) + "\n")


def answer(request: dict[str, object]) -> str:
    messages = request["messages"]
    assert isinstance(messages, list)
    question = str(messages[-1]["content"])
    number = int(question.split()[1].rstrip(":"))
    return f"The answer is {number * number}."


def write_promptfoo(root: Path, count: int, base_url: str) -> None:
    root.mkdir(parents=True, exist_ok=True)
    tests = [
        {
            "vars": {"i": i},
            "assert": [
                {"type": "icontains", "value": "answer"},
                {"type": "javascript", "value": "output.length <= 200"},
                {"type": "regex", "value": "\\d+"},
            ],
        }
        for i in range(count)
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


def promptfoo_env(config_dir: Path) -> dict[str, str]:
    return {
        "PROMPTFOO_DISABLE_TELEMETRY": "1",
        "PROMPTFOO_DISABLE_UPDATE": "1",
        "PROMPTFOO_CONFIG_DIR": str(config_dir),
        "OPENAI_API_KEY": "sk-fake-benchmark",
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--promptfoo", type=Path, help="folder where promptfoo@0.121.20 is installed")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", choices=["replay", "live", "record", "collect"], action="append")
    args = parser.parse_args()
    only = set(args.only or ["replay", "live", "record", "collect"])
    promptfoo = args.promptfoo.resolve() / "node_modules" / ".bin" / "promptfoo" if args.promptfoo else None
    rows: list[tuple[str, str, str, str]] = []
    work = Path(tempfile.mkdtemp(prefix="llmops-bench-"))
    try:
        with ScriptedLLMServer() as server:
            server.reply(answer)
            if only & {"replay", "record"}:
                suite = work / "replay"
                write_suite(suite, 1000, server.base_url)
                bare = work / "bare1000"
                write_trivial(bare, 1000)
                record = statistics.median(
                    run(pytest_cmd("--llmops-record-mode=all", "--llmops-concurrency=1"), suite)[0]
                    for _ in range(args.repeats)
                )
                replay = median_time(pytest_cmd(), suite, args.repeats)
                bare_time = median_time(pytest_cmd(), bare, args.repeats)
                if "replay" in only:
                    rows.append(
                        (
                            "1. replay 1,000 cases",
                            f"{replay:.2f} s",
                            f"bare pytest {bare_time:.2f} s",
                            f"{replay / bare_time:.2f}x (target <= 1.5x)",
                        )
                    )
                    if promptfoo:
                        pf = work / "promptfoo-replay"
                        write_promptfoo(pf, 1000, server.base_url)
                        env = promptfoo_env(work / "pf-config")
                        run(
                            [str(promptfoo), "eval", "--no-write", "--no-progress-bar"], pf, env
                        )  # warm the cache
                        pf_time = median_time(
                            [str(promptfoo), "eval", "--no-write", "--no-progress-bar"], pf, args.repeats, env
                        )
                        rows.append(
                            (
                                "1. promptfoo warm cache",
                                f"{pf_time:.2f} s",
                                f"bare pytest {bare_time:.2f} s",
                                f"{pf_time / bare_time:.2f}x",
                            )
                        )
                if "record" in only:
                    rows.append(
                        (
                            "3. record 1,000 cases",
                            f"{record:.2f} s",
                            f"replay {replay:.2f} s",
                            f"{record / replay:.2f}x (target <= 3x)",
                        )
                    )
            if "live" in only:
                server.reset()
                server.reply(answer, delay=0.25)
                live = work / "live"
                write_suite(live, 200, server.base_url)
                startup = work / "startup"
                write_trivial(startup, 1)
                start_time = median_time(pytest_cmd(), startup, args.repeats)
                live_time = median_time(
                    pytest_cmd("--llmops-record-mode=all", "--llmops-concurrency=16"), live, args.repeats
                )
                ideal = 200 * 0.25 / 16 + start_time
                rows.append(
                    (
                        "2. live 200 x 250 ms, concurrency 16",
                        f"{live_time:.2f} s",
                        f"ideal {ideal:.2f} s (3.125 s + start-up {start_time:.2f} s)",
                        f"{live_time / ideal:.2f}x (target <= 1.25x)",
                    )
                )
                if promptfoo:
                    pf = work / "promptfoo-live"
                    write_promptfoo(pf, 200, server.base_url)
                    env = promptfoo_env(work / "pf-config-live")
                    pf_time = median_time(
                        [str(promptfoo), "eval", "--no-write", "--no-cache", "--no-progress-bar", "-j", "16"],
                        pf,
                        args.repeats,
                        env,
                    )
                    rows.append(
                        (
                            "2. promptfoo -j 16",
                            f"{pf_time:.2f} s",
                            f"ideal {ideal:.2f} s",
                            f"{pf_time / ideal:.2f}x",
                        )
                    )
        if "collect" in only:
            big = work / "collect"
            write_suite(big, 10_000, "http://127.0.0.1:9/v1")
            bare = work / "bare10000"
            write_trivial(bare, 10_000)
            ours = median_time(pytest_cmd("--collect-only"), big, args.repeats)
            theirs = median_time(pytest_cmd("--collect-only"), bare, args.repeats)
            _, out = run(pytest_cmd("--collect-only"), big)
            peak_mb = int(out.rsplit("PEAK_RSS_KB", 1)[1].split()[0]) / 1024
            _, out_bare = run(pytest_cmd("--collect-only"), bare)
            bare_mb = int(out_bare.rsplit("PEAK_RSS_KB", 1)[1].split()[0]) / 1024
            rows.append(
                (
                    "4. collect 10,000 cases",
                    f"{ours:.2f} s",
                    f"bare pytest {theirs:.2f} s",
                    f"{ours / theirs:.2f}x (target <= 2x)",
                )
            )
            rows.append(
                (
                    "4. peak memory, collecting",
                    f"{peak_mb:.0f} MB",
                    f"bare pytest {bare_mb:.0f} MB",
                    "target < 300 MB",
                )
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    header = ("scenario", "pytest-llmops / tool", "reference", "ratio")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
