"""Pinning: a running instance finishes on the workflow version it started on.

An instance keeps the digest of the app definition in force when it was submitted. While
that is still the current definition the compiled flow is at hand; after admins published
another, the old files are read back from the stored definition versions and compiled once.
"""

from __future__ import annotations

import threading

from sqlalchemy import Engine, select

from formflow.definitions.loader import load_app
from formflow.definitions.model import App
from formflow.definitions.toolkit import BUILTIN_TOOLKIT, Toolkit
from formflow.storage.platform_tables import definition_versions
from formflow.workflows.errors import DefinitionGone
from formflow.workflows.model import Workflow


class FlowVersions:
    """The compiled flows of an app, current and past, by definition digest."""

    def __init__(self, engine: Engine, app: App, toolkit: Toolkit = BUILTIN_TOOLKIT) -> None:
        self.engine = engine
        self.app = app
        self.toolkit = toolkit
        self._past: dict[str, App] = {}
        self._lock = threading.Lock()

    def workflow(self, digest: str, key: str) -> Workflow:
        """The flow ``key`` as the definition with ``digest`` has it."""
        if digest == self.app.digest:
            return self.app.workflows[key]
        with self._lock:
            app = self._past.get(digest)
        if app is None:
            app = self._load(digest, key)
            with self._lock:
                self._past[digest] = app
        if key not in app.workflows:
            raise DefinitionGone(key, digest)
        return app.workflows[key]

    def _load(self, digest: str, key: str) -> App:
        with self.engine.connect() as connection:
            files = connection.execute(
                select(definition_versions.c.files)
                .where(
                    definition_versions.c.app_key == self.app.key,
                    definition_versions.c.digest == digest,
                )
                .order_by(definition_versions.c.number.desc())
                .limit(1)
            ).scalar_one_or_none()
        if files is None:
            raise DefinitionGone(key, digest)
        return load_app(dict(files), toolkit=self.toolkit)
