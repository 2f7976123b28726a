"""Demo data an app ships with: ``formflow demo`` runs it, the engine knows nothing of it.

An app folder may hold a ``demo/`` Python package whose ``build(settings, *, seed, app_dir)``
fills a new instance with made-up people and records (through the record service, like any
user) and returns a :class:`DemoSummary`. The package is the app's own code, as its YAML is
its own definition: it is loaded from the folder, never installed with the engine.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Protocol, cast

from formflow.config import Settings
from formflow.errors import FormflowError

DEFAULT_SEED = 2025
PACKAGE = "demo"


class DemoError(FormflowError):
    """The demo cannot go into this instance, or the app has none."""


@dataclass(frozen=True)
class DemoLogin:
    """One way into the demo: a role, who holds it, and how they sign in."""

    role: str
    name: str
    username: str
    password: str | None  # None: not the demo password (set before the demo ran)


@dataclass
class DemoSummary:
    created: bool
    logins: list[DemoLogin]
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.counts.values())


class DemoBuilder(Protocol):
    def __call__(self, settings: Settings, *, seed: int, app_dir: Path) -> DemoSummary: ...


def has_demo(app_dir: Path) -> bool:
    return (app_dir / PACKAGE / "__init__.py").is_file()


def demo_folder(app_dirs: Iterable[Path]) -> Path:
    """The first of ``app_dirs`` that ships a demo."""
    folders = list(app_dirs)
    for folder in folders:
        if has_demo(folder):
            return folder
    shown = ", ".join(str(folder) for folder in folders) or "none found"
    raise DemoError(
        f"no app with a demo (a '{PACKAGE}/' package) among the apps ({shown}); "
        "give the app's folder, as in `formflow demo path/to/app`, or set FORMFLOW_APPS"
    )


def load_demo(app_dir: Path) -> ModuleType:
    """The app's demo package, imported from its folder (once per folder)."""
    entry = app_dir.resolve() / PACKAGE / "__init__.py"
    if not entry.is_file():
        raise DemoError(f"the app in {app_dir} has no demo (no {PACKAGE}/__init__.py)")
    name = "formflow_demo_" + hashlib.sha1(str(entry).encode()).hexdigest()[:12]
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(
        name, entry, submodule_search_locations=[str(entry.parent)]
    )
    if spec is None or spec.loader is None:  # pragma: no cover - a .py file always loads
        raise DemoError(f"cannot load the demo in {entry}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    if not callable(getattr(module, "build", None)):
        raise DemoError(f"the demo in {entry.parent} has no build() function")
    return module


def build_demo(settings: Settings, app_dir: Path, *, seed: int = DEFAULT_SEED) -> DemoSummary:
    """Run the demo of the app in ``app_dir`` against the instance of ``settings``."""
    build = cast(DemoBuilder, load_demo(app_dir).build)
    return build(settings, seed=seed, app_dir=app_dir)


def iter_logins(summary: DemoSummary) -> Iterator[tuple[str, str, str, str]]:
    """Rows of (role, name, username, password) for printing."""
    for login in summary.logins:
        yield (
            login.role,
            login.name,
            login.username,
            login.password or "(the password given to `formflow init`)",
        )
