"""The commands: `formflow serve` and `formflow worker` run the jobs; `formflow jobs` lists
and retries the dead letters.

A plugin's after-hook, written to a file by the process that runs it, shows which process
delivered an event committed in this one.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from queues import wait_until
from sqlalchemy import insert, select

from formflow.cli import main
from formflow.config import Settings, load_settings
from formflow.jobs import Jobs
from formflow.lifecycle.instance import Instance
from formflow.records.access import Actor
from formflow.storage.database import read_transaction, write_transaction
from formflow.storage.platform_tables import dead_letters, event_deliveries, events
from formflow.testing import free_port
from support import AppWriter

CLI = (sys.executable, "-c", "from formflow.cli import main; main()")
PLUGIN = """
import os
from formflow import hookimpl

@hookimpl
def formflow_after_create(app_key, form, record, user_id):
    with open(os.environ["FORMFLOW_TEST_HOOK_LOG"], "a", encoding="utf-8") as log:
        log.write(f"{os.getpid()} {record['name']}\\n")
"""


@pytest.fixture
def environment(tmp_path: Path, write_app: AppWriter) -> dict[str, str]:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "hook_log.py").write_text(PLUGIN, encoding="utf-8")
    env = {
        "FORMFLOW_INSTANCE": str(tmp_path / "instance"),
        "FORMFLOW_DATABASE_URL": "",
        "FORMFLOW_APPS": "",
        "FORMFLOW_PLUGINS_DIR": str(plugins),
        "FORMFLOW_TEST_HOOK_LOG": str(tmp_path / "hooks.log"),
    }
    result = CliRunner().invoke(
        main, ["init", str(write_app()), "--password", "pass-word-1"], env=env
    )
    assert result.exit_code == 0, result.output
    return env


def settings_of(env: dict[str, str]) -> Settings:
    return load_settings(env)


def create_elsewhere(env: dict[str, str], *names: str) -> None:
    """Commit records in this process, their deliveries left to the queue."""
    instance = Instance(settings_of(env))
    try:
        Jobs.open(instance.settings, instance.relay)
        for name in names:
            instance.records("demo").create(Actor.system(), "item", {"name": name})
    finally:
        instance.close()


def hook_lines(env: dict[str, str]) -> list[str]:
    path = Path(env["FORMFLOW_TEST_HOOK_LOG"])
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


def running(env: dict[str, str], *args: str, log: Path) -> subprocess.Popen[bytes]:
    with log.open("w") as output:
        return subprocess.Popen(
            [*CLI, *args], env={**os.environ, **env}, stdout=output, stderr=subprocess.STDOUT
        )


def stop(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        pytest.fail("the process did not stop within 30 s of SIGTERM")


@pytest.mark.slow
def test_formflow_serve_runs_the_jobs_in_its_own_processes(
    environment: dict[str, str], tmp_path: Path
) -> None:
    server = running(
        environment,
        "serve",
        "--port",
        str(free_port()),
        "--workers",
        "2",
        log=tmp_path / "serve.log",
    )
    try:
        create_elsewhere(environment, "One", "Two")
        wait_until(lambda: len(hook_lines(environment)) == 2, "the server to run the hooks")
    finally:
        stop(server)
    lines = hook_lines(environment)
    assert sorted(line.split()[1] for line in lines) == ["One", "Two"]
    assert str(os.getpid()) not in {line.split()[0] for line in lines}


@pytest.mark.slow
def test_formflow_worker_runs_the_jobs_and_stops_on_sigterm(
    environment: dict[str, str], tmp_path: Path
) -> None:
    create_elsewhere(environment, "Before")  # committed while no worker ran
    worker = running(environment, "worker", "--threads", "2", log=tmp_path / "worker.log")
    try:
        wait_until(lambda: len(hook_lines(environment)) == 1, "the worker's first sweep")
        create_elsewhere(environment, "After")
        wait_until(lambda: len(hook_lines(environment)) == 2, "the worker to run the hook")
    finally:
        assert stop(worker) == 0
    assert [line.split()[1] for line in hook_lines(environment)] == ["Before", "After"]


def test_formflow_jobs_lists_and_retries_dead_letters(environment: dict[str, str]) -> None:
    instance = Instance(settings_of(environment))
    try:
        with write_transaction(instance.engine) as connection:
            event_id = connection.execute(
                insert(events).returning(events.c.id),
                {
                    "app_key": "demo",
                    "form_key": "item",
                    "record_id": 3,
                    "kind": "created",
                    "user_id": None,
                    "at": datetime.now(UTC),
                    "data": {"record": {}},
                },
            ).scalar_one()
            connection.execute(
                insert(dead_letters),
                {
                    "subscriber": "plugins.after_hooks",
                    "event_id": event_id,
                    "attempts": 12,
                    "error": "OSError: disk full",
                    "failed_at": datetime.now(UTC),
                },
            )
        runner = CliRunner()
        listed = runner.invoke(main, ["jobs", "dead"], env=environment)
        assert listed.exit_code == 0, listed.output
        assert "plugins.after_hooks" in listed.output
        assert "demo/item/3 created" in listed.output
        assert "after 12 attempts: OSError: disk full" in listed.output
        letter_id = listed.output.split()[0]

        retried = runner.invoke(main, ["jobs", "retry", letter_id], env=environment)
        assert retried.exit_code == 0, retried.output
        assert "queued 1 dead letter(s) again" in retried.output
        with read_transaction(instance.engine) as connection:
            assert connection.execute(select(dead_letters.c.id)).first() is None
            assert connection.execute(select(event_deliveries.c.event_id)).scalars().all() == [
                event_id
            ]
        assert runner.invoke(main, ["jobs", "dead"], env=environment).output == "no dead letters\n"

        again = runner.invoke(main, ["jobs", "retry", letter_id], env=environment)
        assert again.exit_code == 1
        assert f"no dead letter {letter_id}" in again.output
    finally:
        instance.close()


REDIS_DOWN = "redis://127.0.0.1:1/14"
"""A Redis URL nothing answers at: port 1 refuses every connection."""


@pytest.mark.parametrize("command", [("worker",), ("serve", "--port"), ("jobs", "retry", "1")])
def test_a_redis_that_does_not_answer_stops_the_command_in_one_line(
    environment: dict[str, str], command: tuple[str, ...]
) -> None:
    """Not a worker that starts and then logs a traceback every second, nor a server whose
    every worker does: the command refuses to start and says where it looked."""
    env = {**environment, "FORMFLOW_REDIS_URL": REDIS_DOWN}
    port = [str(free_port())] if command[-1] == "--port" else []
    result = CliRunner().invoke(main, [*command, *port], env=env)
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)
    assert result.output.startswith(f"Error: cannot reach Redis at {REDIS_DOWN}: ")
    assert "FORMFLOW_REDIS_URL" in result.output


def test_a_redis_url_that_is_not_one_names_the_variable(environment: dict[str, str]) -> None:
    env = {**environment, "FORMFLOW_REDIS_URL": "127.0.0.1:6379"}
    result = CliRunner().invoke(main, ["worker"], env=env)
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)
    assert result.output == (
        "Error: FORMFLOW_REDIS_URL='127.0.0.1:6379' is not a Redis URL such as "
        "redis://127.0.0.1:6379/0\n"
    )
