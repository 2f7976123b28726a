"""How long a designer action takes on a 200-field form and a 50-node approval flow.

Run: ``.venv/bin/python bench/designer.py [--runs N]``. Builds a throwaway SQLite instance
with one app whose form has 200 fields, then times, as median and p95 in milliseconds of
this process's CPU time (``time.process_time``: on a machine shared with other work, wall
time mostly measures the others): one keyed operation on the YAML document alone (parse,
apply, write), the same on the text the previous edit kept (what the service does: the
parsed document and its layout are remembered, so only the changed field is written), one
operation through the service (read the draft, apply, conditional save), checking the whole
draft (what the page does after each change), and drawing a 50-node flow as a tree.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from itertools import count
from pathlib import Path
from typing import Any

import yaml

from formflow.config import load_settings
from formflow.designer import Designer
from formflow.designer.documents import Document
from formflow.designer.flow_edits import (
    AddLaneStep,
    AddParallel,
    AddStep,
    Link,
    RemoveStep,
    SetActions,
    SetRejectTo,
    SetTimeout,
)
from formflow.designer.flows import flow_tree
from formflow.designer.operations import MoveField, SetLabel
from formflow.lifecycle.install import initialise
from formflow.lifecycle.instance import Instance

APP = """\
key: bench
version: "1.0"
label: {zh: 基准, en: Bench}
roles:
  - key: staff
    label: {zh: 员工, en: Staff}
include:
  forms: [forms/*.yaml]
"""


def big_form(fields: int) -> str:
    lines = ["key: big", "label: {zh: 大表单, en: Big form}", "title_field: f0", "fields:"]
    for number in range(fields):
        lines += [
            f"  - key: f{number}  # field {number}",
            "    type: text",
            f"    label: {{zh: 字段{number}, en: Field {number}}}",
        ]
    lines += ["permissions:", "  staff: {create: all, read: all, update: all, delete: none}"]
    return "\n".join(lines) + "\n"


def big_flow(nodes: int) -> dict[str, Any]:
    steps: list[dict[str, Any]] = [{"key": "start", "type": "start", "next": "n0"}]
    for number in range(nodes - 2):
        following = f"n{number + 1}" if number < nodes - 3 else "end"
        if number % 5 == 0:
            steps.append(
                {
                    "key": f"n{number}",
                    "type": "condition",
                    "branches": [
                        {"when": "x > 1", "next": following},
                        {"default": True, "next": following},
                    ],
                }
            )
        else:
            steps.append({"key": f"n{number}", "type": "approval", "next": following})
    steps.append({"key": "end", "type": "end"})
    return {"key": "flow", "nodes": steps}


def measure(action: Callable[[], Any], runs: int) -> list[float]:
    """Milliseconds of this process's CPU time per run."""
    timings = []
    for _ in range(runs):
        started = time.process_time()
        action()
        timings.append((time.process_time() - started) * 1000)
    return timings


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        app_dir = root / "app"
        (app_dir / "forms").mkdir(parents=True)
        (app_dir / "app.yaml").write_text(APP, encoding="utf-8")
        text = big_form(200)
        (app_dir / "forms" / "big.yaml").write_text(text, encoding="utf-8")
        settings = load_settings({"FORMFLOW_INSTANCE": str(root / "instance")})
        initialise(settings, [app_dir], "admin", "password-1")
        instance = Instance(settings)
        designer = Designer(instance)
        path = "forms/big.yaml"
        labels = count()

        def document_only() -> None:
            document = Document(path, text)
            SetLabel("f100", "en", f"Label {next(labels)}").apply(document)
            document.text()

        kept = [text]

        def kept_document() -> None:
            document = Document(path, kept[0])
            SetLabel("f100", "en", f"Label {next(labels)}").apply(document)
            kept[0] = document.keep()

        def through_service() -> None:
            revision = designer.draft("bench").files[path].revision
            operation = MoveField("f150", next(labels) % 200)
            designer.apply("bench", path, revision, [operation], None)

        flow = big_flow(50)
        flow_text = yaml.safe_dump(flow, sort_keys=False, allow_unicode=True)
        steps = count()

        def edit_flow() -> None:
            document = Document("workflows/flow.yaml", flow_text)
            key = f"added{next(steps)}"
            AddStep(Link("n1"), key).apply(document)
            RemoveStep("n2").apply(document)
            document.text()

        def lanes_and_clock() -> None:
            document = Document("workflows/flow.yaml", flow_text)
            key = f"par{next(steps)}"
            AddParallel(Link("n1"), key, (f"{key}a", f"{key}b"), "any").apply(document)
            AddLaneStep(key, 2, f"{key}c", "cc").apply(document)
            SetTimeout("n2", 24, 72, "escalate").apply(document)
            SetActions("n2", "on_enter", [{"set": {"x": 1}}]).apply(document)
            SetRejectTo("n3", ["submitter", "end"]).apply(document)
            document.text()

        def undo_redo() -> None:
            designer.undo("bench", None)
            designer.redo("bench", None)

        results = {
            "operation on the document": measure(document_only, args.runs),
            "operation on a kept document": measure(kept_document, args.runs),
            "operation through the service": measure(through_service, args.runs),
            "check the whole draft": measure(lambda: designer.errors("bench"), args.runs),
            "draw a 50-node flow": measure(lambda: flow_tree(flow), args.runs),
            "add and remove a flow step": measure(edit_flow, args.runs),
            "lanes, clock, actions, reject": measure(lanes_and_clock, args.runs),
            "undo and redo a step": measure(undo_redo, args.runs),
        }
        instance.close()
    for name, samples in results.items():
        print(
            f"{name:>30}: median {statistics.median(samples):6.1f} ms"
            f"   p95 {percentile(samples, 0.95):6.1f} ms"
        )


if __name__ == "__main__":
    main()
