"""Loading a suite whose cases are a CSV file of N rows (`load_suite`, no pytest): time per row.

    python benchmarks/bench_datasets.py 10000 100000

Each size is timed once in one process; a time per row that stays flat as N grows is the
linear collection the data-file loader promises (CSV and JSONL files are read row by row).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from pytest_llmops.engine.plan import load_suite
from pytest_llmops.engine.session import Session
from pytest_llmops.prompts.registry import PromptRegistry


def main(sizes: list[int]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "prompts").mkdir()
        (root / "prompts" / "p.yaml").write_text(
            "name: p\nversion: 1.0.0\nmodel: gpt-4o-mini\nuser: '{{ q }}'\n"
        )
        registry = PromptRegistry.from_dir(root / "prompts")
        for n in sizes:
            with (root / f"rows{n}.csv").open("w") as handle:
                handle.write("q,__expected\n")
                handle.writelines(f"question {i},icontains: {i}\n" for i in range(n))
            suite = root / f"test_{n}.llmops.yaml"
            suite.write_text(f"prompt: p\nprovider: openai:gpt-4o-mini\ntests: file://rows{n}.csv\n")
            started = time.perf_counter()
            plan = load_suite(suite, prompts=lambda _: registry, session=Session())
            elapsed = time.perf_counter() - started
            per_row = elapsed / n * 1e6
            print(f"{n:>7} rows: {elapsed:6.2f} s, {per_row:5.0f} us per row ({len(plan.cases)} cases)")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [10_000, 100_000])
