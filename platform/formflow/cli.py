"""The ``formflow`` command. Each subcommand is a thin wrapper over a documented function."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from formflow import __version__
from formflow.definitions import load_app
from formflow.errors import DefinitionErrors


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="formflow")
def main() -> None:
    """Formflow: forms, workflows and dashboards from YAML app definitions."""


@main.command()
@click.argument("app_dir", type=click.Path(path_type=Path))
def validate(app_dir: Path) -> None:
    """Check the app definition in APP_DIR and report every problem.

    Each problem is printed as FILE:LINE:COL: message and the exit status is 1. A valid
    app prints a one-line summary and exits 0.
    """
    started = time.perf_counter()
    try:
        app = load_app(app_dir)
    except DefinitionErrors as exc:
        for error in exc:
            click.echo(str(error), err=False)
        noun = "problem" if len(exc) == 1 else "problems"
        click.echo(f"{app_dir}: {len(exc)} {noun} found", err=True)
        sys.exit(1)
    elapsed = (time.perf_counter() - started) * 1000
    click.echo(f"{app_dir}: valid: {app.summary()} ({elapsed:.0f} ms)")
