"""How long ``formflow demo`` takes to build the CRM demo company in a fresh instance.

Run: ``.venv/bin/python bench/demo.py [--runs N] [--seed S]``. Each run is the whole command
(Python start-up, creating the instance, installing the CRM app, entering about a thousand
records through the record service) in a new temporary instance on SQLite, timed from
outside; the build's own figure, as the command prints it, is shown beside it. Reports the
median and the slowest run in seconds. This figure used to be a test's limit; speed is never
asserted in tests (a busy machine would fail them), so it lives here and in
docs/performance.md.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FORMFLOW = Path(sys.executable).with_name("formflow")
BUILD_LINE = re.compile(r"demo data created in ([0-9.]+) s: (.*)")


def one_run(seed: int) -> tuple[float, float, str]:
    """Seconds for the whole command, seconds the build reported, and what it made."""
    with tempfile.TemporaryDirectory(prefix="formflow-bench-demo-") as folder:
        env = {**os.environ, "FORMFLOW_INSTANCE": str(Path(folder) / "instance")}
        env.pop("FORMFLOW_DATABASE_URL", None)
        started = time.perf_counter()
        done = subprocess.run(
            [str(FORMFLOW), "demo", "--seed", str(seed)],
            cwd=folder,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        whole = time.perf_counter() - started
    found = BUILD_LINE.search(done.stdout)
    if found is None:
        raise SystemExit(f"formflow demo printed no build line:\n{done.stdout}")
    return whole, float(found.group(1)), found.group(2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=2025)
    args = parser.parse_args()
    wholes: list[float] = []
    builds: list[float] = []
    for number in range(1, args.runs + 1):
        whole, build, made = one_run(args.seed)
        wholes.append(whole)
        builds.append(build)
        print(f"run {number}: command {whole:5.1f} s, build {build:5.1f} s")
    print(f"made: {made}")
    for name, samples in (("formflow demo", wholes), ("the build alone", builds)):
        print(
            f"{name:>16}: median {statistics.median(samples):5.1f} s   slowest {max(samples):5.1f} s"
        )


if __name__ == "__main__":
    main()
