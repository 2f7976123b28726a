"""The designer pages: administrators change an app's forms in the browser.

A thin layer over :class:`formflow.designer.Designer`: each request becomes one call, each
refusal a message. Every change is a draft saved on the server at once; the page names the
revision it shows, so a change made from a stale tab comes back as a conflict with its diff.
The pages work as plain forms; htmx swaps the designer in place and SortableJS adds drag and
drop, each posting the same forms.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from formflow.definitions.source import SourceError, parse_document
from formflow.designer import Designer
from formflow.designer.bundles import BundleRefused
from formflow.designer.documents import DocumentError, UnreadableDocument
from formflow.designer.drafts import Draft, DraftConflict, DraftError, DraftFile
from formflow.designer.flows import flow_tree
from formflow.designer.operations import (
    AddField,
    ConfigureField,
    HideField,
    MoveField,
    Operation,
    RemoveField,
    SetLabel,
    SetValue,
    is_hidden,
)
from formflow.designer.service import Publication
from formflow.designer.upgrades import Upgrade, UpgradeUnresolved
from formflow.errors import (
    N_,
    DefinitionError,
    DefinitionErrors,
    FormflowError,
    MigrationFailed,
    MigrationRefused,
)
from formflow.fields.titles import ADDABLE
from formflow.web import context
from formflow.web.admin import administrators_only
from formflow.web.formbuilder import Pickers, form_class
from formflow.web.i18n import translate
from formflow.web.local_addresses import local_address

blueprint = Blueprint("designer", __name__, url_prefix="/admin/designer")

SETTINGS = ("required", "readonly", "unique", "indexed")
"""The yes/no settings the panel offers for every field type."""


@blueprint.before_request
def _administrators_only() -> Any:
    return administrators_only(_("Only administrators may design apps."))


@blueprint.before_request
def _installed_apps_only() -> None:
    """Every page here is about one installed app: any other key is not found."""
    app_key = (request.view_args or {}).get("app_key")
    if app_key is not None and app_key not in context.instance().app_keys:
        abort(404)


def designer() -> Designer:
    return Designer(context.instance())


@blueprint.get("/")
def index() -> str:
    """The installed apps and their forms, each a link to its designer."""
    instance = context.instance()
    apps = [instance.app(key) for key in instance.app_keys]
    return render_template("designer/index.html", apps=apps, admin_tab="designer")


def _document_file(draft: Draft, folder: str, key: str) -> str:
    """The draft's file in ``folder`` that defines ``key`` (404 when none does)."""
    for path, item in draft.files.items():
        if path.startswith(f"{folder}/"):
            try:
                data = _read(path, item.text)
            except SourceError:  # unreadable for now: found by its file name
                if path.rsplit("/", 1)[-1].removesuffix(".yaml") == key:
                    return path
                continue
            if isinstance(data, dict) and data.get("key") == key:
                return path
    abort(404)


@dataclass(frozen=True)
class OpenDocument:
    """A draft's file as a designer page shows it: ``data`` is empty while the text does not
    parse, and ``unreadable`` then says where, so the YAML tab keeps the text and the visual
    side waits."""

    path: str
    stored: DraftFile
    data: Any
    unreadable: DefinitionError | None

    def page_values(self, yaml_text: str | None = None) -> dict[str, Any]:
        """What a designer page's template needs of the file: where it is, its label, the
        revision a change must name, and the YAML tab's text (the stored one unless
        ``yaml_text``, typed but not saved, is to be kept) with where it stops reading."""
        return {
            "path": self.path,
            "label": self.data.get("label"),
            "revision": self.stored.revision,
            "yaml_text": self.stored.text if yaml_text is None else yaml_text,
            "unreadable": self.unreadable,
        }


def open_document(draft: Draft, folder: str, key: str) -> OpenDocument:
    """The draft's file in ``folder`` that defines ``key``, read (404 when none does)."""
    return _open(draft, _document_file(draft, folder, key))


def _open(draft: Draft, path: str) -> OpenDocument:
    stored = draft.files[path]
    try:
        return OpenDocument(path, stored, _read(path, stored.text), None)
    except SourceError as exc:
        return OpenDocument(path, stored, {}, exc.error)


def flash_refusal(
    refusal: DraftError | DocumentError | SourceError | ValueError, category: str = "error"
) -> None:
    """Say on the page a step redirects to why the step was refused (an operation's own
    refusal in ``category``: the workflow page shows some beside their node)."""
    if isinstance(refusal, DraftConflict):
        flash(_("Someone saved this file after you opened it; the page now shows their version."))
    elif isinstance(refusal, UnreadableDocument | SourceError):
        flash(_("Fix the YAML first: the visual designer waits until it reads again."), "error")
    else:
        flash(_(str(refusal)), category)  # the operations' own words are marked for translation


@blueprint.get("/<app_key>/forms/<form_key>")
def form(app_key: str, form_key: str) -> Any:
    """The form designer: fields, the chosen field's settings, preview and YAML."""
    return _render_form(_FormFile.located(app_key, form_key))


@dataclass(frozen=True)
class _FormFile:
    """What every page of the form designer works on: the designer, the app's draft and the
    draft's file that defines the form."""

    service: Designer
    draft: Draft
    app_key: str
    form_key: str
    path: str

    @classmethod
    def located(cls, app_key: str, form_key: str) -> _FormFile:
        service, draft, path = _located(app_key, "forms", form_key)
        return cls(service, draft, app_key, form_key, path)

    def reloaded(self) -> _FormFile:
        """The same file in the draft as saved now (another tab saved since)."""
        return replace(self, draft=self.service.draft(self.app_key))


def _render_form(
    at: _FormFile,
    *,
    yaml_text: str | None = None,
    conflict: DraftConflict | None = None,
    problem: str | None = None,
    status: int = 200,
) -> Any:
    service, draft, app_key, form_key = at.service, at.draft, at.app_key, at.form_key
    document = _open(draft, at.path)
    fields = [dict(item) for item in document.data.get("fields", []) if isinstance(item, dict)]
    errors = service.errors(app_key)
    preview = None
    if not errors:
        compiled = service.compile(draft.texts()).forms.get(form_key)
        if compiled is not None:
            preview = form_class(compiled, Pickers())(meta={"csrf": False})
            preview_fields = compiled.fields
    chosen = request.args.get("field")
    selected = next((item for item in fields if item.get("key") == chosen), None)
    live = context.instance().app(app_key).forms.get(form_key)
    published = {field.key for field in live.fields} if live else set()
    page = render_template(
        "designer/form.html",
        admin_tab="designer",
        app_key=app_key,
        form_key=form_key,
        fields=fields,
        selected=selected,
        settings=SETTINGS,
        field_types=ADDABLE,
        is_hidden=is_hidden,
        errors=errors,
        conflict=conflict,
        problem=problem,
        preview=preview,
        preview_fields=preview_fields if preview is not None else (),
        references=service.references(app_key, chosen, at.path) if selected and chosen else [],
        removable=bool(selected) and chosen not in published,
        can_undo=service.can_undo(app_key),
        **document.page_values(yaml_text),
    )
    if request.headers.get("HX-Request") == "true":
        status = 200  # htmx swaps only successful answers; the page itself says what failed
    return page, status


@blueprint.post("/<app_key>/forms/<form_key>/change")
def change(app_key: str, form_key: str) -> Any:
    """Apply one designer operation named by the posted form, then show the designer."""
    at = _FormFile.located(app_key, form_key)
    revision = _posted_revision()
    if request.form.get("action") == "rename":
        return _rename(at, revision)
    if request.form.get("action") == "remove" and _published(app_key, form_key, request.form):
        problem = _("A published field can be hidden, not removed: its data stays with it.")
        return _render_form(at, problem=problem, status=400)
    try:
        operations = _operations(request.form)
        at.service.apply(app_key, at.path, revision, operations, context.user().id)
    except (DraftConflict, DocumentError, ValueError) as refusal:
        return _refused_form(at, refusal)
    field = "" if request.form.get("action") == "remove" else request.form.get("key", "")
    return redirect(url_for(".form", app_key=app_key, form_key=form_key, field=field or None))


def _rename(at: _FormFile, revision: int) -> Any:
    """Rename the posted field and every use of it in the app; its column keeps its data."""
    old = request.form.get("key", "")
    new = request.form.get("new_key", "").strip()
    try:
        at.service.rename_field(at.app_key, at.path, old, new, context.user().id, revision=revision)
    except (DraftConflict, DocumentError) as refusal:
        return _refused_form(at, refusal)
    return redirect(url_for(".form", app_key=at.app_key, form_key=at.form_key, field=new))


def _refused_form(at: _FormFile, refusal: DraftConflict | DocumentError | ValueError) -> Any:
    """The form designer again, saying why the posted step was refused: a conflict shows the
    newer draft beside its diff."""
    if isinstance(refusal, DraftConflict):
        return _render_form(at.reloaded(), conflict=refusal, status=409)
    if isinstance(refusal, UnreadableDocument):
        problem = _("Fix the YAML first: the visual designer waits until it reads again.")
    else:
        problem = str(refusal)
    return _render_form(at, problem=problem, status=400)


def _published(app_key: str, form_key: str, posted: Any) -> bool:
    """Whether the posted field is in the version in force (so it may only be hidden)."""
    live = context.instance().app(app_key).forms.get(form_key)
    return live is not None and posted.get("key", "") in {field.key for field in live.fields}


def _operations(posted: Any) -> list[Operation]:
    """The operation a posted designer form asks for."""
    action = posted.get("action", "")
    key = posted.get("key", "")
    if action in ("up", "down"):
        position = int(posted.get("position", "0")) + (-1 if action == "up" else 1)
        return [MoveField(key, max(position, 0))]
    if action == "order":
        order = list(dict.fromkeys(posted.getlist("order")))
        return [MoveField(item, index) for index, item in enumerate(order)]
    if action in ("hide", "show"):
        return [HideField(key, action == "hide")]
    if action == "remove":
        return [RemoveField(key)]
    if action == "add":
        return [_new_field(posted)]
    if action == "configure":
        operations: list[Operation] = [
            SetLabel(key, language, posted.get(f"label_{language}", "").strip())
            for language in ("zh", "en")
            if posted.get(f"label_{language}", "").strip()
        ]
        operations += [
            ConfigureField(key, setting, True if posted.get(setting) else None)
            for setting in SETTINGS
        ]
        return operations
    raise ValueError(_("Unknown designer action."))


def _new_field(posted: Any) -> AddField:
    key = posted.get("new_key", "").strip()
    kind = posted.get("new_type", "text").strip()
    zh = posted.get("new_label_zh", "").strip() or key
    en = posted.get("new_label_en", "").strip() or key
    settings: dict[str, Any] = {"key": key, "type": kind, "label": {"zh": zh, "en": en}}
    if posted.get("new_required"):
        settings["required"] = True
    default = posted.get("new_default", "").strip()
    if default:
        settings["default"] = default
    options = [line.strip() for line in posted.get("new_options", "").splitlines() if line.strip()]
    if kind in ("select", "multiselect"):
        settings["options"] = [
            {"value": value, "label": {"zh": value, "en": value}} for value in options
        ]
    return AddField(settings)


@blueprint.post("/<app_key>/forms/<form_key>/yaml")
def save_yaml(app_key: str, form_key: str) -> Any:
    """Save the YAML tab's text as it is: text that does not parse is kept, with its place."""
    at = _FormFile.located(app_key, form_key)
    text = _posted_yaml()
    revision = _posted_revision()
    try:
        at.service.save(app_key, at.path, text, revision, context.user().id)
    except DraftConflict as conflict:
        return _render_form(at.reloaded(), yaml_text=text, conflict=conflict, status=409)
    return redirect(url_for(".form", app_key=app_key, form_key=form_key))


@blueprint.post("/<app_key>/yaml")
def save_document_yaml(app_key: str) -> Response:
    """Save the YAML tab of the workflow or dashboard designer, as typed: text that does
    not parse is kept (the page then names its place and the visual side waits)."""
    service = designer()
    draft = _draft(service, app_key)
    path = request.form.get("path", "")
    if path not in draft.files or not path.startswith(("workflows/", "dashboards/")):
        abort(404)
    text = _posted_yaml()
    revision = _posted_revision()
    try:
        service.save(app_key, path, text, revision, context.user().id)
    except DraftConflict as conflict:
        flash(str(conflict), "error")
    return _back(app_key)


@blueprint.get("/<app_key>/workflows/<workflow_key>")
def workflow(app_key: str, workflow_key: str) -> Any:
    """The approval flow as a tree of nodes, each with its settings; labels editable."""
    service = designer()
    document = open_document(_draft(service, app_key), "workflows", workflow_key)
    from formflow.web.designer_flow_pages import flow_page_context  # it routes on ours

    return render_template(
        "designer/workflow.html",
        admin_tab="designer",
        app_key=app_key,
        workflow_key=workflow_key,
        steps=flow_tree(document.data),
        errors=service.errors(app_key),
        **document.page_values(),
        **flow_page_context(service, app_key, document.data),
    )


@blueprint.post("/<app_key>/workflows/<workflow_key>/label")
def workflow_label(app_key: str, workflow_key: str) -> Any:
    """Relabel one node of the flow (one line of its YAML changes)."""
    service, _unused_draft, path = _located(app_key, "workflows", workflow_key)
    node = request.form.get("node", "")
    revision = _posted_revision()
    operations: list[Operation] = [
        SetValue(("nodes", node, "label", language), request.form[f"label_{language}"].strip())
        for language in ("zh", "en")
        if request.form.get(f"label_{language}", "").strip()
    ]
    try:
        service.apply(app_key, path, revision, operations, context.user().id)
    except (DraftConflict, DocumentError) as refusal:
        flash_refusal(refusal)
    return redirect(url_for(".workflow", app_key=app_key, workflow_key=workflow_key))


@blueprint.post("/<app_key>/forms/<form_key>/check")
def check_yaml(app_key: str, form_key: str) -> str:
    """The YAML tab's text checked as it is typed, without saving it: a fragment of errors."""
    service, _unused_draft, path = _located(app_key, "forms", form_key)
    text = _posted_yaml()
    return render_template("designer/_check.html", errors=service.check_text(app_key, path, text))


@blueprint.get("/<app_key>/publish")
def publish_page(app_key: str) -> str:
    """What publishing the draft would do, in business words and as migration steps."""
    service = designer()
    _draft(service, app_key)
    preview = service.preview(app_key)
    return render_template(
        "designer/publish.html",
        admin_tab="designer",
        app_key=app_key,
        preview=preview,
        changes=[translate(change.template, change.params) for change in preview.changes],
        history=service.history(app_key),
        translate=translate,
        upgrade=service.upgrade_state(app_key),
    )


@blueprint.post("/<app_key>/publish")
def publish(app_key: str) -> Response:
    """Publish the draft with the admin's comment; no change makes no version."""
    service = designer()
    user = context.user()
    comment = request.form.get("comment", "").strip()
    try:
        done = service.publish(app_key, user.id, user.display_name, comment)
    except (DefinitionErrors, MigrationRefused, MigrationFailed, UpgradeUnresolved) as exc:
        flash(str(exc), "error")
    else:
        _flash_published(done)
    return redirect(url_for(".publish_page", app_key=app_key))


@blueprint.post("/<app_key>/rollback/<int:number>")
def rollback(app_key: str, number: int) -> Response:
    """Publish an old version again as a new one."""
    service = designer()
    user = context.user()
    comment = _("Rolled back to version %(number)s", number=number)
    try:
        done = service.rollback(app_key, number, user.id, user.display_name, comment)
    except (FormflowError, MigrationRefused) as exc:
        flash(str(exc), "error")
    else:
        _flash_published(done)
    return redirect(url_for(".publish_page", app_key=app_key))


def _flash_published(done: Publication | None) -> None:
    if done is None:
        flash(_("Nothing has changed, so no version was made."), "info")
    else:
        flash(_("Published as version %(number)s.", number=done.version_number), "success")


@blueprint.get("/<app_key>/export")
def export(app_key: str) -> Response:
    """The version in force as a zip: its files and a manifest with their checksums."""
    service = designer()
    _draft(service, app_key)
    data = service.export(app_key)
    answer = Response(data, mimetype="application/zip")
    answer.headers["Content-Disposition"] = f'attachment; filename="{app_key}.zip"'
    return answer


@blueprint.post("/<app_key>/import")
def import_bundle(app_key: str) -> Response:
    """A zip exported from this or another instance is merged into the draft like an
    upgrade (never over it); its report is answered on the upgrade page."""
    service = designer()
    _draft(service, app_key)
    if not merged_upload(
        app_key,
        "bundle",
        service.import_bundle,
        _("Choose a zip file to import."),
        N_("The zip was not imported: %(reason)s"),
    ):
        return redirect(url_for(".publish_page", app_key=app_key))
    flash(_("The zip is merged into the draft: answer its issues below, then publish."), "success")
    return redirect(url_for(".upgrade_page", app_key=app_key))


def merged_upload(
    app_key: str,
    name: str,
    merge: Callable[[str, bytes, int | None], Upgrade],
    missing: str,
    not_merged: str,
) -> bool:
    """Merge the zip uploaded as ``name`` into the app's draft with ``merge`` (an import or
    a release, both read as bundles); ``False`` when none was chosen (``missing`` is said)
    or it was refused: ``not_merged`` says why one line at a time, as a bundle that does not
    compile lists its missing plugins, then every other problem as ``FILE:LINE:COL``."""
    upload = request.files.get(name)
    if upload is None or not upload.filename:
        flash(missing, "error")
        return False
    try:
        merge(app_key, upload.read(), context.user().id)
    except (BundleRefused, DraftError) as exc:
        for line in translate(not_merged, {"reason": str(exc)}).splitlines():
            flash(line, "error")
        return False
    return True


@blueprint.post("/<app_key>/undo")
def undo(app_key: str) -> Response:
    """Undo the draft's latest designer step, then go back to the page it was made on."""
    return _step(app_key, redo=False)


@blueprint.post("/<app_key>/redo")
def redo(app_key: str) -> Response:
    return _step(app_key, redo=True)


def _step(app_key: str, *, redo: bool) -> Response:
    service = designer()
    _draft(service, app_key)
    try:
        if redo:
            service.redo(app_key, context.user().id)
        else:
            service.undo(app_key, context.user().id)
    except DraftError as exc:
        flash(str(exc), "error")
    return _back(app_key)


def _back(app_key: str) -> Response:
    """Back to the designer page the form was posted from (``back``), or to the index when
    ``back`` is not one of this app's designer pages."""
    back = local_address(request.form.get("back")) or ""
    if not back.startswith(f"/admin/designer/{app_key}/") or "//" in back:
        back = url_for(".index")
    return redirect(back)


@blueprint.post("/<app_key>/discard")
def discard(app_key: str) -> Response:
    designer().discard(app_key)
    flash(_("The draft was discarded."), "info")
    return redirect(url_for(".index"))


def _read(path: str, text: str) -> Any:
    """A draft file's data for showing it: the compiler's own fast reader (libyaml), which
    the page's reads need; only edits go through the round-trip document."""
    return parse_document(text.encode("utf-8"), path).data


def _located(app_key: str, folder: str, key: str) -> tuple[Designer, Draft, str]:
    """The designer, the app's draft and the draft's file in ``folder`` that defines ``key``
    (404 when there is none): what every page about one document starts from."""
    service = designer()
    draft = _draft(service, app_key)
    return service, draft, _document_file(draft, folder, key)


def _posted_revision() -> int:
    """The revision of the file the posted page showed (0 when it names none)."""
    return request.form.get("revision", type=int) or 0


def _posted_yaml() -> str:
    """The posted YAML tab's text, with the browser's line ends made the file's."""
    return request.form.get("yaml", "").replace("\r\n", "\n")


def _draft(service: Designer, app_key: str) -> Draft:
    if app_key not in context.instance().app_keys:
        abort(404)
    try:
        return service.draft(app_key)
    except DraftError:
        abort(404)


def init_app(app: Flask) -> None:
    from formflow.web import (  # noqa: F401 - their routes join the blueprint
        designer_dashboard_pages,
        designer_flow_pages,
        designer_upgrade_pages,
    )

    app.register_blueprint(blueprint)
