"""How long checking and compiling an app definition takes.

Run: ``.venv/bin/python bench/validate_app.py [APP_DIR] [--runs N]``. Reports the in-process
time of ``load_app`` (what every start of the server pays) and the wall time of the
``formflow validate`` command (what an admin waits for), as median and p95 in milliseconds.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

from formflow.definitions import load_app

ROOT = Path(__file__).resolve().parent.parent


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def measure(action: object, runs: int) -> list[float]:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        action()  # type: ignore[operator]
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("app_dir", nargs="?", default=str(ROOT / "apps" / "crm_sfa"))
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    app = load_app(args.app_dir)
    print(f"app: {app.summary()}")
    in_process = measure(lambda: load_app(args.app_dir), args.runs)
    command = [str(Path(sys.executable).with_name("formflow")), "validate", args.app_dir]
    whole_command = measure(
        lambda: subprocess.run(command, check=True, capture_output=True), max(5, args.runs // 3)
    )
    for name, samples in (("load_app", in_process), ("formflow validate", whole_command)):
        print(
            f"{name:>18}: median {statistics.median(samples):6.1f} ms   p95 {percentile(samples, 0.95):6.1f} ms"
        )


if __name__ == "__main__":
    main()
