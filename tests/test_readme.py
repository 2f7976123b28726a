"""The README's steps by hand work as written, from any folder, with the real `formflow`.

The commands are read from README.md's code block, so a change there is tested here; only
what is machine-specific is replaced: the instance folder goes under a temporary folder,
`.venv/bin/formflow` becomes this environment's console script and the port a free one.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from formflow.testing import free_port
from support import ROOT
from test_serve import wait_until_up

FORMFLOW = Path(sys.executable).with_name("formflow")
HEADING = "The same steps by hand"

pytestmark = pytest.mark.slow


def by_hand_steps() -> list[list[str]]:
    """The commands in the first ```sh block after the by-hand heading, as argument lists."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```sh\n(.*?)```", text[text.index(HEADING) :], re.DOTALL)
    assert block is not None, f"README.md has no ```sh block after '{HEADING}'"
    return [shlex.split(line, comments=True) for line in block.group(1).splitlines()]


def test_the_by_hand_steps_are_export_demo_and_serve() -> None:
    assert [step[:2] for step in by_hand_steps()] == [
        ["export", "FORMFLOW_INSTANCE=/tmp/crm-demo"],
        [".venv/bin/formflow", "demo"],
        [".venv/bin/formflow", "serve"],
    ]


def test_the_by_hand_steps_work_from_any_folder(tmp_path: Path) -> None:
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("FORMFLOW_APPS", "FORMFLOW_DATABASE_URL", "FORMFLOW_INSTANCE")
    }
    port = free_port()
    for step in by_hand_steps():
        if step[0] == "export":
            name, _, value = step[1].partition("=")
            env[name] = str(tmp_path / Path(value).name)
            continue
        command = [str(FORMFLOW), *step[1:]]
        if step[1] == "serve":
            command[command.index("--port") + 1] = str(port)
            serve(command, folder, env, port, tmp_path / "serve.log")
            continue
        done = subprocess.run(
            command, cwd=folder, env=env, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert "demo data created" in done.stdout
        assert "admin       demo1234" in done.stdout
    assert (tmp_path / "crm-demo" / "formflow.db").is_file()
    assert list(folder.iterdir()) == []


def serve(command: list[str], folder: Path, env: dict[str, str], port: int, log: Path) -> None:
    """Start `formflow serve`, read the sign-in page, and stop it."""
    with log.open("w") as output:
        process = subprocess.Popen(command, cwd=folder, env=env, stdout=output, stderr=output)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(process, base, log)
        with urllib.request.urlopen(f"{base}/login", timeout=10) as response:
            page = response.read().decode()
        assert response.status == 200
        assert 'name="username"' in page
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
