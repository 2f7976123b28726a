"""`formflow serve`: gunicorn serving the app, after checking the instance."""

from __future__ import annotations

import gc
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner

from formflow.cli import main
from formflow.config import Settings, load_settings, unshared_secret
from formflow.definitions import App
from formflow.lifecycle.install import initialise
from formflow.lifecycle.instance import Instance
from formflow.lifecycle.serve import (
    FormflowServer,
    PortInUse,
    check_port,
    default_workers,
    options,
    url,
)
from formflow.storage.versions import StoredVersion
from formflow.testing import free_port
from support import AppWriter

PASSWORD = "password-1"
STARTUP_SECONDS = 120  # how long to wait before giving up, not a speed requirement
CLI = (sys.executable, "-c", "from formflow.cli import main; main()")


def test_the_address_people_type() -> None:
    assert url("127.0.0.1", 5000) == "http://127.0.0.1:5000/"
    assert url("0.0.0.0", 8000) == "http://127.0.0.1:8000/"
    assert url("::1", 8000) == "http://[::1]:8000/"


def test_gunicorn_options() -> None:
    assert options("127.0.0.1", 5000, 3)["bind"] == "127.0.0.1:5000"
    assert options("::1", 5000, 3)["bind"] == "[::1]:5000"
    assert options("127.0.0.1", 5000, 3)["workers"] == 3
    assert options("127.0.0.1", 5000, None)["workers"] == default_workers()
    assert 1 <= default_workers() <= 4


@pytest.mark.skipif(not hasattr(socket, "SO_REUSEPORT"), reason="no SO_REUSEPORT here")
def test_a_port_another_server_shares_is_in_use() -> None:
    with socket.socket() as other:
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        with pytest.raises(PortInUse, match="in use by another program"):
            check_port("127.0.0.1", port)


def test_a_free_port_passes_the_check() -> None:
    check_port("127.0.0.1", free_port())


def test_serve_refuses_an_instance_that_is_not_initialised(tmp_path: Path) -> None:
    env = {"FORMFLOW_INSTANCE": str(tmp_path / "nothing-here"), "FORMFLOW_DATABASE_URL": ""}
    result = CliRunner().invoke(main, ["serve", "--port", "1"], env=env)
    assert result.exit_code == 1
    assert "run `formflow init`" in result.output


def test_serve_listens_on_localhost_by_default() -> None:
    serve = main.commands["serve"]
    host = next(p for p in serve.params if p.name == "host")
    assert host.default == "127.0.0.1"


@contextmanager
def counting_compiles(instance: Instance) -> Iterator[list[str]]:
    compiled: list[str] = []
    original = instance.compile

    def compile_and_count(version: StoredVersion) -> App:
        compiled.append(version.app_key)
        return original(version)

    instance.compile = compile_and_count  # type: ignore[method-assign]
    try:
        yield compiled
    finally:
        instance.compile = original  # type: ignore[method-assign]


# a real server in a subprocess ------------------------------------------------------


@pytest.fixture
def server(tmp_path: Path, write_app: AppWriter) -> Iterator[str]:
    """`formflow serve` with two workers on a free port; yields its base URL."""
    folder = tmp_path / "instance"
    initialise(load_settings({"FORMFLOW_INSTANCE": str(folder)}), [write_app()], "admin", PASSWORD)
    port = free_port()
    env = {**os.environ, "FORMFLOW_INSTANCE": str(folder), "FORMFLOW_DATABASE_URL": ""}
    log = tmp_path / "serve.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [*CLI, "serve", "--port", str(port), "--workers", "2"],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(process, base, log)
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
            pytest.fail("formflow serve did not stop within 20 s of SIGTERM")


def wait_until_up(process: subprocess.Popen[bytes], base: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = log.read_text(errors="replace")
            pytest.fail(f"formflow serve exited with {process.returncode}:\n{output}")
        try:
            with urllib.request.urlopen(f"{base}/login", timeout=2):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):  # not up, or busy starting
            time.sleep(0.2)
    pytest.fail(f"formflow serve did not answer within {STARTUP_SECONDS} s")


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def session_cookie(headers: list[str] | None) -> str:
    return next(header for header in headers or [] if header.startswith("session="))


def test_a_served_instance_signs_people_in(server: str) -> None:
    """Over plain http on 127.0.0.1, as a browser there does: the session cookie is Secure,
    which browsers accept on localhost. Requests may land on either worker."""
    opener = urllib.request.build_opener(NoRedirect)
    with opener.open(f"{server}/login", timeout=5) as response:
        page = response.read().decode()
        cookie = session_cookie(response.headers.get_all("Set-Cookie"))
    assert response.status == 200
    assert "Secure" in cookie
    assert "HttpOnly" in cookie
    session = cookie.split(";", 1)[0]
    token = re.search(r'name="csrf-token" content="([^"]+)"', page)
    assert token is not None
    form = {"username": "admin", "password": PASSWORD, "csrf_token": token.group(1)}
    request = urllib.request.Request(
        f"{server}/login",
        data=urllib.parse.urlencode(form).encode(),
        headers={"Cookie": session},
    )
    with pytest.raises(urllib.error.HTTPError) as redirect:  # urllib calls a 302 an error
        opener.open(request, timeout=5)
    assert redirect.value.code == 302
    signed_in = session_cookie(redirect.value.headers.get_all("Set-Cookie")).split(";", 1)[0]
    redirect.value.close()
    for _ in range(4):  # both workers know the session: they share the instance's secret
        home = urllib.request.Request(f"{server}/", headers={"Cookie": signed_in})
        with opener.open(home, timeout=5) as response:
            assert response.status == 200


def test_a_worker_compiles_the_apps_before_its_first_request(
    tmp_path: Path, write_app: AppWriter
) -> None:
    settings = load_settings({"FORMFLOW_INSTANCE": str(tmp_path / "instance")})
    initialise(settings, [write_app()], "admin", PASSWORD)
    app = FormflowServer(settings, options("127.0.0.1", free_port(), 1)).load()
    instance = app.extensions["formflow"]
    with counting_compiles(instance) as compiled:
        instance.records(instance.app_keys[0])
    assert compiled == []
    app.extensions["formflow.jobs"].stop()
    instance.close()
    gc.unfreeze()  # load() froze this test process's objects, as it does a worker's


def listening_sockets(port: int) -> int:
    """How many sockets listen on ``port`` on this (Linux) machine."""
    found = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
            found += 1
    return found


def test_the_server_log_says_where_it_listens(server: str, tmp_path: Path) -> None:
    """With a socket per worker the arbiter holds none; its line named no address."""
    log = (tmp_path / "serve.log").read_text(errors="replace")
    assert f"Listening at: {server} (" in log


def test_serve_on_a_port_in_use_says_so_without_a_traceback(
    tmp_path: Path, write_app: AppWriter
) -> None:
    folder = tmp_path / "instance"
    initialise(load_settings({"FORMFLOW_INSTANCE": str(folder)}), [write_app()], "admin", PASSWORD)
    env = {"FORMFLOW_INSTANCE": str(folder), "FORMFLOW_DATABASE_URL": ""}
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        result = CliRunner().invoke(main, ["serve", "--port", str(port)], env=env)
    assert result.exit_code == 1
    assert f"port {port} on 127.0.0.1 is in use by another program" in result.output
    assert "Traceback" not in result.output


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads Linux's socket table")
def test_each_worker_listens_on_a_socket_of_its_own(server: str) -> None:
    """The kernel then spreads connections over the workers, keep-alive ones too."""
    assert listening_sockets(int(server.rsplit(":", 1)[1])) == 2


def pg_settings(folder: Path, **more: str) -> Settings:
    url = "postgresql+psycopg://postgres@127.0.0.1:5432/formflow"
    return load_settings({"FORMFLOW_INSTANCE": str(folder), "FORMFLOW_DATABASE_URL": url, **more})


def test_postgresql_without_a_secret_key_is_warned_of_naming_the_variable_and_the_steps(
    tmp_path: Path,
) -> None:
    warning = unshared_secret(pg_settings(tmp_path))
    assert warning is not None
    assert "FORMFLOW_SECRET_KEY" in warning
    assert 'docs/operations.md, "Scale past one machine"' in warning


def test_a_shared_secret_key_or_a_sqlite_instance_is_not_warned_of(tmp_path: Path) -> None:
    assert unshared_secret(pg_settings(tmp_path, FORMFLOW_SECRET_KEY="s" * 40)) is None
    assert unshared_secret(load_settings({"FORMFLOW_INSTANCE": str(tmp_path)})) is None


def test_serve_warns_at_start_up_on_postgresql_without_a_secret_key(
    tmp_path: Path, write_app: AppWriter, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A warning, not a refusal: one machine on PostgreSQL works as it is (here the port in
    use stops it after the warning, before anything is served)."""
    folder = tmp_path / "instance"
    env = {"FORMFLOW_INSTANCE": str(folder), "FORMFLOW_DATABASE_URL": database_url}
    initialise(load_settings(env), [write_app()], "admin", PASSWORD)
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        with caplog.at_level(logging.WARNING, logger="formflow.config"):
            result = CliRunner().invoke(main, ["serve", "--port", str(port)], env=env)
    assert f"port {port} on 127.0.0.1 is in use" in result.output
    warned = [r.getMessage() for r in caplog.records if "FORMFLOW_SECRET_KEY" in r.getMessage()]
    assert len(warned) == (1 if database_url.startswith("postgresql") else 0)
