"""Serving the web app in production: gunicorn, started from Python.

``formflow serve`` runs gunicorn in-process through its custom-application API rather than
asking people to assemble a ``gunicorn`` command line. The instance is checked first, and
the app built once, so a missing ``formflow init`` or a bad setting fails with one clear
message instead of every worker failing to boot. Each worker then builds its own app (no
preloading), so no database connection is shared across a fork.

It listens on 127.0.0.1 unless told otherwise: put a reverse proxy (nginx, Caddy) with TLS
in front of it to serve other machines.

Where the system has ``SO_REUSEPORT`` (Linux, the BSDs), each worker listens on a socket of
its own and the kernel spreads new connections over them. With one socket shared by every
worker, whichever worker woke first took the connection, and a keep-alive client stays with
it: under load one worker held all of them while the others stood idle. Because such sockets
may share a port with another server of the same user, :func:`check_port` makes sure the
port is free first.
"""

from __future__ import annotations

import errno
import gc
import os
import socket
from collections.abc import Mapping
from typing import Any

from gunicorn.app.base import BaseApplication  # type: ignore[import-untyped]
from gunicorn.glogging import Logger  # type: ignore[import-untyped]

from formflow.config import Settings
from formflow.errors import FormflowError
from formflow.lifecycle.instance import Instance

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5000
MAX_DEFAULT_WORKERS = 4
THREADS = 4


def default_workers() -> int:
    """Two processes per CPU plus one, as gunicorn suggests, but at most four."""
    return min(2 * (os.cpu_count() or 1) + 1, MAX_DEFAULT_WORKERS)


def url(host: str, port: int) -> str:
    """The address people type for ``host`` and ``port``."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else "[::1]" if host == "::" else host
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/"


class PortInUse(FormflowError):
    """Something else listens on the address ``formflow serve`` was asked to use."""


def check_port(host: str, port: int) -> None:
    """Raise :class:`PortInUse` when another program listens on ``host``:``port``.

    The probe binds without ``SO_REUSEPORT``, so it fails against any listener, one that
    shares its port included; it is closed again before gunicorn binds.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past TIME_WAIT only
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise PortInUse(f"cannot listen on {host}:{port}: {exc.strerror}") from None
            raise PortInUse(
                f"port {port} on {host} is in use by another program; "
                "stop it or choose another with --port"
            ) from None


LISTENING = "Listening at: %s (%s)"
"""gunicorn's arbiter's line saying where it listens, and the process it runs as."""


class ServerLog(Logger):  # type: ignore[misc]
    """gunicorn's log, with the address filled in where the arbiter leaves it out.

    The arbiter names the sockets it holds; with a socket per worker (``reuse_port``) it
    holds none, and its line read ``Listening at:  (1234)``. The address it was told to
    bind is the one served, so that is what the line says instead.
    """

    def info(self, msg: str, *args: Any, **kwargs: Any) -> None:
        if msg == LISTENING and args and not args[0]:
            args = (", ".join(f"http://{address}" for address in self.cfg.bind), *args[1:])
        super().info(msg, *args, **kwargs)


def options(host: str, port: int, workers: int | None) -> dict[str, Any]:
    """gunicorn's settings for serving Formflow."""
    address = f"[{host}]" if ":" in host else host
    return {
        "bind": f"{address}:{port}",
        "workers": workers or default_workers(),
        "worker_class": "gthread",
        "threads": THREADS,
        "timeout": 60,
        "graceful_timeout": 10,
        "accesslog": "-",
        "errorlog": "-",
        "proc_name": "formflow",
        "logger_class": ServerLog,
        "reuse_port": hasattr(socket, "SO_REUSEPORT"),  # a socket per worker: see above
        # gunicorn 25.1+ opens a control socket at one path per user; several servers
        # (two instances, parallel tests) would fight over it.
        "control_socket_disable": True,
    }


def check(settings: Settings) -> None:
    """Raise the instance's error unless it is initialised, its job queue answers and the
    app builds."""
    from formflow.jobs import check_queue
    from formflow.web import create_app

    instance = Instance(settings)
    try:
        instance.ensure_initialised()
        check_queue(settings)
        create_app(settings, instance=instance)
    finally:
        instance.close()


class FormflowServer(BaseApplication):  # type: ignore[misc]
    """gunicorn serving :func:`formflow.web.create_app` for ``settings``."""

    def __init__(self, settings: Settings, gunicorn_options: Mapping[str, Any]) -> None:
        self.settings = settings
        self.gunicorn_options = dict(gunicorn_options)
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.gunicorn_options.items():
            if key in self.cfg.settings:  # older gunicorns lack the newer settings
                self.cfg.set(key, value)

    def load(self) -> Any:
        from formflow.web import create_app

        app = create_app(self.settings)
        instance: Instance = app.extensions["formflow"]
        for app_key in instance.app_keys:  # compiled before the first request, not during it
            instance.records(app_key)
        from formflow.jobs import serve_jobs

        app.extensions["formflow.jobs"] = serve_jobs(
            self.settings, instance.relay, setup=instance.attach_jobs
        )
        # What start-up made (compiled apps, tables, templates) lives as long as the worker:
        # out of the collector's sight, a full collection takes a fraction of the ~70 ms it
        # otherwise would, in the middle of some request.
        gc.freeze()
        return app


def run(
    settings: Settings,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    workers: int | None = None,
) -> None:
    """Serve until stopped (Ctrl+C or SIGTERM); :func:`check` the instance before."""
    check_port(host, port)
    forget_request_counts(settings)
    FormflowServer(settings, options(host, port, workers)).run()


def forget_request_counts(settings: Settings) -> None:
    """Start the request metrics afresh: the processes of an earlier run left their
    counts in the instance's ``metrics/`` folder, one file each, which would add up forever
    (a scraper sees the drop as a counter reset, as after any restart)."""
    from formflow.monitoring.metrics import FOLDER

    for path in (settings.instance / FOLDER).glob("*.json"):
        path.unlink(missing_ok=True)
