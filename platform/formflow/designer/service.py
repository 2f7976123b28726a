"""The designer service: drafts, operations, checks, publishing, history and rollback.

It imports no Flask: the admin pages translate requests into these calls. Publishing goes
through the one migration path every change takes (:func:`formflow.storage.migrations.
migrate`), so a designer publish is planned, refused or applied exactly as ``formflow
migrate`` would, and recorded as a definition version; beside it the service keeps who
published, when, why, and the plan that was shown, written in the same transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.exc import OperationalError

from formflow.dashboards import DashboardService, ViewerFilters, WidgetResult
from formflow.definitions import App, load_app
from formflow.designer.arrangement import ArrangementRefused, ArrangeWidgets, Placement
from formflow.designer.bundles import Bundle, BundleRefused, read_bundle, write_bundle
from formflow.designer.changes import Change, compare
from formflow.designer.documents import Document, DocumentError
from formflow.designer.drafts import (
    Draft,
    DraftConflict,
    DraftError,
    DraftFile,
    discard_draft,
    open_draft,
)
from formflow.designer.flow_edits import FlowOperation
from formflow.designer.flows import node_at, node_spans
from formflow.designer.merge import MergeResult
from formflow.designer.operations import FIELDS, Operation, RemovalRefused, RemoveField
from formflow.designer.references import Reference, find_references
from formflow.designer.renames import rename_field
from formflow.designer.simulate import Simulation, sample_values, simulate
from formflow.designer.undo import available, forget_steps, redo, save_step, undo
from formflow.designer.upgrades import (
    IMPORT,
    Answer,
    NoRelease,
    ReleaseRefused,
    Upgrade,
    UpgradeUnresolved,
    finish,
    pending,
    plan_upgrade,
    resolve_issue,
    start_upgrade,
    unresolved_message,
)
from formflow.designer.upgrades import forget as forget_upgrade
from formflow.designer.widgets import PREVIEW_ROWS, PREVIEW_SECONDS, PreviewTooSlow, with_widget
from formflow.errors import DefinitionError, DefinitionErrors
from formflow.lifecycle.instance import Instance
from formflow.records import Actor, RecordService
from formflow.storage.database import read_transaction, write_transaction
from formflow.storage.migrations import MigrationResult, migrate
from formflow.storage.platform_tables import designer_publications
from formflow.storage.time_caps import capped
from formflow.storage.versions import StoredVersion, current_version, get_version, list_versions


class EditRefused(DocumentError):
    """An edit that would give the flow node it changes a problem the compiler finds (an
    unknown role or state, a condition that does not read): nothing is saved, and
    ``problems`` say what, ``FILE:LINE:COL``, for the page to show beside ``node``."""

    def __init__(self, node: str, problems: tuple[DefinitionError, ...]) -> None:
        super().__init__("; ".join(problem.message for problem in problems))
        self.node = node
        self.problems = problems


@dataclass(frozen=True)
class PublishPreview:
    """What publishing the draft would do: the changes in business words, the migration's
    steps, its refusals, and the definition's errors (any error or refusal blocks it)."""

    changes: tuple[Change, ...] = ()
    steps: tuple[str, ...] = ()
    refusals: tuple[str, ...] = ()
    errors: tuple[DefinitionError, ...] = ()

    @property
    def publishable(self) -> bool:
        return not self.errors and not self.refusals and bool(self.changes or self.steps)


@dataclass(frozen=True)
class Publication:
    """Who published a version from the designer, when and why, and the plan shown."""

    app_key: str
    version_number: int
    author_name: str
    comment: str
    published_at: datetime
    changes: tuple[Change, ...] = field(default=(), hash=False)
    plan: tuple[str, ...] = ()


@dataclass(frozen=True)
class HistoryEntry:
    version: StoredVersion
    publication: Publication | None


class Designer:
    """The designer over one opened instance (its database, plugins and time zone)."""

    def __init__(self, instance: Instance) -> None:
        self.instance = instance

    # drafts --------------------------------------------------------------------------

    def draft(self, app_key: str) -> Draft:
        """The app's draft, started from the version in force the first time."""
        with write_transaction(self.instance.engine) as connection:
            return open_draft(connection, app_key)

    def save(
        self, app_key: str, path: str, text: str, revision: int, user_id: int | None
    ) -> DraftFile:
        """Save a file's text as typed (the YAML tab); see :func:`~.drafts.save_file`."""
        with write_transaction(self.instance.engine) as connection:
            stored = open_draft(connection, app_key).file(path)
            return save_step(connection, app_key, stored, text, revision, user_id)

    def apply(
        self,
        app_key: str,
        path: str,
        revision: int,
        operations: Iterable[Operation | FlowOperation],
        user_id: int | None,
        *,
        checked_node: str | None = None,
    ) -> DraftFile:
        """Apply designer operations to one draft file and save the result, made from
        ``revision``. Raises :class:`~.documents.UnreadableDocument` while the file's text
        does not parse (the visual side waits for the text to be fixed) and
        :class:`~.documents.DocumentError` for an operation that does not fit. With
        ``checked_node`` (a flow node's key), an edit giving that node a problem it did not
        have is refused with :class:`EditRefused`, and nothing is saved.

        The check compiles the whole app (a tenth of a second or more), so it runs between
        two short transactions rather than holding the database's write lock: the save
        is conditional on ``revision``, so a file saved in between makes it a
        :class:`~.drafts.DraftConflict` as before.

        A :class:`~.operations.RemoveField` of a published field (one the version in force
        defines, or renamed from one) is refused with :class:`~.operations.RemovalRefused`,
        whoever calls; a ``path`` the draft has not is a :class:`~.drafts.DraftError`."""
        with write_transaction(self.instance.engine) as connection:
            draft = open_draft(connection, app_key)
            live = current_version(connection, app_key)
        stored = draft.file(path)
        document = Document(path, stored.text)
        published = live.files.get(path, "") if live is not None else ""
        operations = list(operations)
        for operation in operations:
            if isinstance(operation, RemoveField):
                _refuse_published_removal(document, published, operation.key)
        for operation in operations:
            operation.apply(document)
        if checked_node is not None and document.changed:
            self._refuse_new_problems(draft.texts(), path, document.text(), checked_node)
        with write_transaction(self.instance.engine) as connection:
            return save_step(connection, app_key, stored, document.keep(), revision, user_id)

    def _refuse_new_problems(
        self, files: Mapping[str, str], path: str, text: str, node: str
    ) -> None:
        after = self._problems_at(files, path, text, node)
        if not after:
            return
        before = {problem.message for problem in self._problems_at(files, path, files[path], node)}
        new = tuple(problem for problem in after if problem.message not in before)
        if new:
            raise EditRefused(node, new)

    def _problems_at(
        self, files: Mapping[str, str], path: str, text: str, node: str
    ) -> tuple[DefinitionError, ...]:
        """The compiler's problems inside ``node``'s lines with ``text`` as ``path``."""
        try:
            self.compile({**files, path: text})
        except DefinitionErrors as exc:
            spans = node_spans(text)
            return tuple(
                error
                for error in exc.errors
                if error.file == path and node_at(spans, error.line) == node
            )
        return ()

    def undo(self, app_key: str, user_id: int | None) -> DraftFile:
        """Undo the draft's latest designer step (:class:`~.undo.NothingToUndo` if none)."""
        with write_transaction(self.instance.engine) as connection:
            return undo(connection, app_key, user_id)

    def redo(self, app_key: str, user_id: int | None) -> DraftFile:
        """Make again the step undone last."""
        with write_transaction(self.instance.engine) as connection:
            return redo(connection, app_key, user_id)

    def can_undo(self, app_key: str) -> tuple[bool, bool]:
        """Whether the draft has a step to undo, and one to redo."""
        with read_transaction(self.instance.engine) as connection:
            return available(connection, app_key)

    def rename_field(
        self,
        app_key: str,
        form_path: str,
        old: str,
        new: str,
        user_id: int | None,
        *,
        revision: int,
    ) -> dict[str, DraftFile]:
        """Rename a field and every use of it across the draft's files, as one step to undo;
        a published field keeps ``renamed_from`` so its column moves with its data.

        ``revision`` is the form file's revision the page showed: when another tab saved
        the form since, the rename is a :class:`~.drafts.DraftConflict` (its diff is what
        the rename would do to the newer text) and nothing is saved, as for any other edit.
        The other files the rename rewrites are taken at their latest text: the page never
        showed them."""
        with write_transaction(self.instance.engine) as connection:
            draft = open_draft(connection, app_key)
            stored = draft.file(form_path)
            live = current_version(connection, app_key)
            published = live is not None and _defines(live.files.get(form_path, ""), old)
            changed = rename_field(draft.texts(), form_path, old, new, published=published)
            if stored.revision != revision:
                raise DraftConflict(form_path, stored, changed[form_path])
            saved: dict[str, DraftFile] = {}
            batch = uuid.uuid4().hex
            for path, text in changed.items():
                stored = draft.files[path]
                saved[path] = save_step(
                    connection, app_key, stored, text, stored.revision, user_id, batch
                )
            return saved

    def simulate(
        self,
        app_key: str,
        workflow_key: str,
        *,
        record_id: int | None = None,
        typed: Mapping[str, str] | None = None,
        submitter_id: int | None = None,
    ) -> Simulation:
        """The path the draft's flow takes for a sample record (one stored, by id, or
        values typed) and the people each step would ask, nothing run or written."""
        app = self.compile(self.draft(app_key).texts())
        workflow = app.workflows[workflow_key]
        form = app.forms[workflow.form]
        record: dict[str, Any] = sample_values(form, typed or {})
        department = None
        if record_id is not None:
            stored, department = self._stored_record(app_key, form.key, record_id)
            record.update(stored)
        with read_transaction(self.instance.engine) as connection:
            return simulate(
                connection,
                workflow,
                record,
                app_key=app_key,
                submitter_id=submitter_id,
                record_department=department,
            )

    def _stored_record(
        self, app_key: str, form_key: str, record_id: int
    ) -> tuple[dict[str, Any], int | None]:
        records = self.instance.records(app_key)
        found = dict(records.get(Actor(None, is_admin=True), form_key, record_id))
        department = found.get("_department_id")
        return found, int(department) if isinstance(department, int) else None

    def preview_widget(
        self,
        app_key: str,
        dashboard_key: str,
        path: str,
        settings: Mapping[str, Any],
        actor: Actor,
    ) -> WidgetResult:
        """A widget not yet saved, computed on live rows under ``actor``'s permissions, at
        most :data:`~.widgets.PREVIEW_ROWS` rows or groups and
        :data:`~.widgets.PREVIEW_SECONDS` per statement (:class:`~.widgets.PreviewTooSlow`);
        :class:`DefinitionErrors` when the draft with it would not compile. Nothing is
        saved."""
        files = self.draft(app_key).texts()
        files[path] = with_widget(files[path], path, settings)
        app = self.compile(files)
        widget = app.dashboards[dashboard_key].widget(str(settings["key"]))
        assert widget is not None  # with_widget put it there
        limited = replace(widget, limit=min(widget.limit or PREVIEW_ROWS, PREVIEW_ROWS))
        live = self.instance.records(app_key)
        records = RecordService(
            capped(self.instance.engine, PREVIEW_SECONDS),
            self.instance.schema(app_key),
            timezone=live.timezone,
        )
        try:
            return DashboardService(records).compute(actor, limited, ViewerFilters())
        except OperationalError:
            raise PreviewTooSlow(
                f"the preview took longer than {PREVIEW_SECONDS:g} seconds: "
                "add a filter or choose a dimension with fewer values"
            ) from None

    def save_widget(
        self,
        app_key: str,
        path: str,
        settings: Mapping[str, Any],
        revision: int,
        user_id: int | None,
    ) -> DraftFile:
        """Save the widget into the draft's dashboard (the designer's Save)."""
        with write_transaction(self.instance.engine) as connection:
            stored = open_draft(connection, app_key).files[path]
            text = with_widget(stored.text, path, settings)
            return save_step(connection, app_key, stored, text, revision, user_id)

    def arrange_widgets(
        self,
        app_key: str,
        path: str,
        placements: Iterable[Placement],
        revision: int,
        user_id: int | None,
    ) -> DraftFile | None:
        """Save the dashboard grid's arrangement (the designer's Save) as one step to undo,
        made from ``revision``; ``None``, nothing written, when it is the saved one. Refused
        with every problem (:class:`~.arrangement.ArrangementRefused`) when it does not name
        each widget once with a width of the grid, or as a conflict when the file moved on."""
        with write_transaction(self.instance.engine) as connection:
            stored = open_draft(connection, app_key).files[path]
            document = Document(path, stored.text)
            try:
                ArrangeWidgets(tuple(placements)).apply(document)
            except ArrangementRefused:
                if revision != stored.revision:  # another tab added or removed a widget
                    raise DraftConflict(path, stored, stored.text) from None
                raise
            if not document.changed:
                return None
            return save_step(connection, app_key, stored, document.keep(), revision, user_id)

    def discard(self, app_key: str) -> None:
        """Forget the draft, its steps, and the upgrade being resolved in it."""
        with write_transaction(self.instance.engine) as connection:
            discard_draft(connection, app_key)
            forget_steps(connection, app_key)
            forget_upgrade(connection, app_key)

    # checking ------------------------------------------------------------------------

    def compile(self, files: Mapping[str, str]) -> App:
        """The draft's compiled app; :class:`DefinitionErrors` with every problem's place."""
        return load_app(files, toolkit=self.instance.plugins.toolkit)

    def errors(self, app_key: str) -> tuple[DefinitionError, ...]:
        """Every problem of the draft, ``FILE:LINE:COL``, sorted; empty when it compiles."""
        try:
            self.compile(self.draft(app_key).texts())
        except DefinitionErrors as exc:
            return exc.errors
        return ()

    def check_text(self, app_key: str, path: str, text: str) -> tuple[DefinitionError, ...]:
        """The problems the draft would have with ``text`` as its ``path`` (nothing saved):
        the YAML tab's check as the admin types, by the compiler the server runs."""
        files = {**self.draft(app_key).texts(), path: text}
        try:
            self.compile(files)
        except DefinitionErrors as exc:
            return exc.errors
        return ()

    def references(self, app_key: str, key: str, defined_in: str | None = None) -> list[Reference]:
        """Everything in the draft that uses ``key``: review before deleting or renaming."""
        return find_references(self.draft(app_key).texts(), key, defined_in=defined_in)

    # publishing ----------------------------------------------------------------------

    def preview(self, app_key: str) -> PublishPreview:
        """What publishing the draft would change, planned against the live database."""
        files = self.draft(app_key).texts()
        return self._preview(app_key, files)

    def _preview(self, app_key: str, files: Mapping[str, str]) -> PublishPreview:
        with read_transaction(self.instance.engine) as connection:
            live = current_version(connection, app_key)
        changes = tuple(compare(dict(live.files) if live else {}, files))
        try:
            result = self._migrate(files, dry_run=True)
        except DefinitionErrors as exc:
            return PublishPreview(changes, errors=exc.errors)
        plan = result.plan
        with read_transaction(self.instance.engine) as connection:
            upgrade = pending(connection, app_key)
        waiting = (unresolved_message(upgrade),) if upgrade and upgrade.unresolved else ()
        return PublishPreview(changes, tuple(plan.explain()), (*plan.refusals, *waiting))

    def publish(
        self, app_key: str, user_id: int | None, author_name: str, comment: str
    ) -> Publication | None:
        """Migrate the app to its draft and record the version with its author; ``None``
        when the draft changes nothing (no version is made). The draft is then discarded.
        A draft holding an upgrade is refused (:class:`~.upgrades.UpgradeUnresolved`) until
        every issue is resolved; publishing it makes the release the app's base."""
        files = self.draft(app_key).texts()
        with read_transaction(self.instance.engine) as connection:
            upgrade = pending(connection, app_key)
        if upgrade is not None and upgrade.unresolved:
            raise UpgradeUnresolved(unresolved_message(upgrade))
        publication = self._publish(
            app_key, files, user_id, author_name, comment, upgrading=upgrade is not None
        )
        if upgrade is not None and publication is None:  # the release changed nothing here
            with write_transaction(self.instance.engine) as connection:
                finish(connection, app_key)
        self.discard(app_key)
        return publication

    def rollback(
        self, app_key: str, number: int, user_id: int | None, author_name: str, comment: str
    ) -> Publication | None:
        """Publish version ``number``'s files as a new version: history is never rewritten,
        and like every migration it keeps the data of the fields the old version lacks."""
        with read_transaction(self.instance.engine) as connection:
            old = get_version(connection, app_key, number)
        publication = self._publish(app_key, dict(old.files), user_id, author_name, comment)
        self.discard(app_key)
        return publication

    def _publish(
        self,
        app_key: str,
        files: Mapping[str, str],
        user_id: int | None,
        author_name: str,
        comment: str,
        *,
        upgrading: bool = False,
    ) -> Publication | None:
        preview = self._preview(app_key, files)
        recorded: list[Publication] = []

        def record(connection: Connection, result: MigrationResult) -> None:
            assert result.version is not None
            publication = Publication(
                app_key,
                result.version.number,
                author_name,
                comment,
                datetime.now(UTC),
                preview.changes,
                tuple(result.plan.explain()),
            )
            connection.execute(
                designer_publications.insert().values(
                    app_key=app_key,
                    version_number=publication.version_number,
                    author_id=user_id,
                    author_name=author_name,
                    comment=comment,
                    changes=[change.stored() for change in publication.changes],
                    plan=list(publication.plan),
                    published_at=publication.published_at,
                )
            )
            recorded.append(publication)
            if upgrading:
                finish(connection, app_key)

        result = self._migrate(files, dry_run=False, note=comment or None, also=record)
        if result.applied:
            self.instance.forget(app_key)
        return recorded[0] if recorded else None

    def _migrate(
        self, files: Mapping[str, str], *, dry_run: bool, **options: Any
    ) -> MigrationResult:
        return migrate(
            self.instance.engine,
            files,
            dry_run=dry_run,
            toolkit=self.instance.plugins.toolkit,
            timezone=self.instance.settings.timezone,
            **options,
        )

    # export and import ---------------------------------------------------------------

    def export(self, app_key: str) -> bytes:
        """The version in force as a zip bundle (files and a manifest with checksums)."""
        with read_transaction(self.instance.engine) as connection:
            version = current_version(connection, app_key)
        if version is None:
            raise DraftError(f"app '{app_key}' is not installed, so there is nothing to export")
        return write_bundle(app_key, version.number, version.files)

    def import_bundle(self, app_key: str, data: bytes, user_id: int | None) -> Upgrade:
        """Merge a bundle of ``app_key`` into its draft like an upgrade, never over it: the
        keyed three-way merge of the release the app's changes were based on, the app in
        force and the bundle, with one report of what merged and every conflict, orphan and
        decision. Refused (:class:`~.bundles.BundleRefused`) for an unsafe or damaged zip or
        another app's bundle; (:class:`~.upgrades.ReleaseRefused`) when it does not compile
        here, missing plugins first; (:class:`~.upgrades.UpgradeError`) while the draft
        holds unpublished work or an upgrade."""
        bundle = self._bundle(app_key, data)
        label = self._release(app_key, bundle.files)
        if bundle.version is not None:
            label = f"{label} (version {bundle.version})"
        with write_transaction(self.instance.engine) as connection:
            return start_upgrade(connection, app_key, label, bundle.files, user_id, IMPORT)

    def upgrade_bundle(self, app_key: str, data: bytes, user_id: int | None) -> Upgrade:
        """:meth:`upgrade` from a release uploaded as a bundle (the export's zip format,
        refused as for an import when unsafe or damaged)."""
        return self.upgrade(app_key, self._bundle(app_key, data).files, user_id)

    def _bundle(self, app_key: str, data: bytes) -> Bundle:
        bundle = read_bundle(data)
        if bundle.app_key != app_key:
            raise BundleRefused(f"the zip holds app '{bundle.app_key}', not '{app_key}'")
        return bundle

    # upgrades ------------------------------------------------------------------------

    def plan_upgrade(self, app_key: str, files: Mapping[str, str]) -> MergeResult:
        """The merge of a new release's ``files`` into the app in force, nothing written:
        what merges by itself, and every conflict, orphan and decision."""
        self._release(app_key, files)
        with read_transaction(self.instance.engine) as connection:
            return plan_upgrade(connection, app_key, files)

    def upgrade(self, app_key: str, files: Mapping[str, str], user_id: int | None) -> Upgrade:
        """Merge a new release into the app's draft, never the live app; its issues are
        resolved with :meth:`resolve_upgrade`, then the draft is published as usual."""
        label = self._release(app_key, files)
        with write_transaction(self.instance.engine) as connection:
            return start_upgrade(connection, app_key, label, files, user_id)

    def upgrade_state(self, app_key: str) -> Upgrade | None:
        """The upgrade being resolved in the app's draft, if any."""
        with read_transaction(self.instance.engine) as connection:
            return pending(connection, app_key)

    def resolve_upgrade(self, app_key: str, answer: Answer, user_id: int | None) -> Upgrade:
        """Answer one issue of the upgrade on the draft (see :data:`~.upgrades.CHOICES`)."""
        with write_transaction(self.instance.engine) as connection:
            return resolve_issue(connection, app_key, answer, user_id)

    def _release(self, app_key: str, files: Mapping[str, str]) -> str:
        """The release's version label, once it compiles as the same app by itself
        (:class:`~.upgrades.ReleaseRefused` otherwise, what plugins lack first)."""
        try:
            release = self.compile(files)
        except DefinitionErrors as exc:
            raise ReleaseRefused(exc) from None
        if release.key != app_key:
            raise NoRelease(f"the folder holds app '{release.key}', not '{app_key}'")
        return release.version

    # history -------------------------------------------------------------------------

    def history(self, app_key: str) -> list[HistoryEntry]:
        """Every version of the app, newest first, with its publication when the designer
        made it."""
        with read_transaction(self.instance.engine) as connection:
            versions = list_versions(connection, app_key)
            rows = connection.execute(
                select(designer_publications).where(designer_publications.c.app_key == app_key)
            ).mappings()
            publications = {row["version_number"]: _publication(row) for row in rows}
        return [
            HistoryEntry(version, publications.get(version.number))
            for version in reversed(versions)
        ]


def _refuse_published_removal(draft: Document, published: str, key: str) -> None:
    """Refuse removing ``key`` when the version in force has it (``published`` is the
    form's live text) or the draft's field was renamed from a published one."""
    try:
        renamed = draft.get((FIELDS, key)).get("renamed_from")
    except DocumentError:  # no such field: the removal itself says so
        renamed = None
    if renamed or _defines(published, key):
        raise RemovalRefused(key)


def _defines(text: str, field_key: str) -> bool:
    """Whether a form's text (of the live version) has a field keyed ``field_key``."""
    try:
        document = Document("form", text)
        return any(item.get("key") == field_key for item in document.items(("fields",)))
    except DocumentError:  # an unreadable file defines nothing
        return False


def _publication(row: Mapping[Any, Any]) -> Publication:
    published_at: datetime = row["published_at"]
    if published_at.tzinfo is None:
        published_at = published_at.replace(tzinfo=UTC)
    return Publication(
        row["app_key"],
        row["version_number"],
        row["author_name"],
        row["comment"],
        published_at,
        tuple(Change.from_stored(item) for item in row["changes"]),
        tuple(row["plan"]),
    )
