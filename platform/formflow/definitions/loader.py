"""Loading an app folder: find its files, check them all, and compile the :class:`App`.

This is the one entry point from YAML to the compiled model. It never stops at the first
problem: every file is read and checked, and all problems are raised together in one
:class:`DefinitionErrors`, sorted by file and position.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any

from formflow.automations.model import Automation, TriggerType
from formflow.definitions.agenda import derived_date_problems, inline_problems
from formflow.definitions.automations import compile_automation
from formflow.definitions.compiling import (
    AppContext,
    DocumentCompiler,
    label,
    optional_label,
    unknown,
)
from formflow.definitions.dashboard_indexes import with_dashboard_indexes
from formflow.definitions.dashboards import compile_dashboard
from formflow.definitions.duplicates import compile_duplicate_checks
from formflow.definitions.files import AppFiles, app_files
from formflow.definitions.forms import compile_form
from formflow.definitions.model import App, Form, Index, MenuGroup, Role, SortKey
from formflow.definitions.record_actions import with_record_actions
from formflow.definitions.relations import Relations
from formflow.definitions.schemas import schema_errors
from formflow.definitions.source import SourceDocument, SourceError, parse_document
from formflow.definitions.toolkit import BUILTIN_TOOLKIT, Toolkit
from formflow.definitions.workflows import compile_workflow
from formflow.errors import DefinitionError, DefinitionErrors

APP_FILE = "app.yaml"
INCLUDE_KINDS = {
    "forms": "form",
    "workflows": "workflow",
    "dashboards": "dashboard",
    "automations": "automation",
}


@dataclass
class _Files:
    """The documents of an app folder that passed their schema, by kind."""

    documents: dict[str, list[SourceDocument]]
    declared_forms: frozenset[str]
    digest: str


def load_app(
    source: str | Path | AppFiles | Mapping[str, str | bytes],
    *,
    toolkit: Toolkit = BUILTIN_TOOLKIT,
) -> App:
    """Compile an app with the field types and expression functions of ``toolkit`` (the
    plugins'); raise :class:`DefinitionErrors` listing every problem.

    ``source`` is the app's folder, or its files as a mapping of relative path to text (a
    stored version, a draft), in which case messages name the files by those paths.
    """
    folder = app_files(source)
    errors: list[DefinitionError] = []
    app_document = _read_valid(folder, APP_FILE, "app", errors)
    if app_document is None:
        raise DefinitionErrors(errors)
    files = _read_included(folder, app_document, errors)
    data = app_document.data
    roles = _roles(app_document, errors)
    documents = files.documents
    context = AppContext(
        role_keys=frozenset(role.key for role in roles),
        form_keys=files.declared_forms,
        field_types=toolkit.field_types,
        expressions=toolkit.expressions,
        actions=toolkit.actions,
        role_labels={role.key: role.label for role in roles},
    )
    forms = _compile_all(documents["form"], "form", errors, compile_form, context)
    by_key = {document.data["key"]: document for document in reversed(documents["form"])}
    forms = Relations(forms, by_key, errors, files.declared_forms).resolve()
    for key, form in forms.items():
        for path, message in [*derived_date_problems(form), *inline_problems(form, forms)]:
            errors.append(by_key[key].error_at_value(path, message))
    workflows = _compile_all(
        documents["workflow"], "workflow", errors, lambda c: compile_workflow(c, forms), context
    )
    dashboards = _compile_all(
        documents["dashboard"], "dashboard", errors, lambda c: compile_dashboard(c, forms), context
    )
    automations = _compile_all(
        documents["automation"],
        "automation",
        errors,
        lambda c: compile_automation(c, forms, workflows),
        context,
    )
    done: set[str] = set()
    for document in documents["form"]:
        key = document.data["key"]
        if key in forms and key not in done:  # a second file declaring it was refused
            done.add(key)
            compiler = DocumentCompiler(document, context, errors)
            forms[key] = with_record_actions(compiler, forms[key], forms, workflows)
    menu = _menu(app_document, forms, files.declared_forms, errors)
    duplicate_checks = compile_duplicate_checks(app_document, forms, errors)
    if errors:
        raise DefinitionErrors(errors)
    return App(
        key=data["key"],
        version=data["version"],
        label=label(data["label"]),
        description=optional_label(data.get("description")),
        default_language=data.get("default_language", "zh"),
        roles=roles,
        forms=with_dashboard_indexes(
            _with_agenda_indexes(_with_date_indexes(forms, automations.values())),
            dashboards.values(),
        ),
        workflows=workflows,
        dashboards=dashboards,
        automations=automations,
        digest=files.digest,
        menu=menu,
        duplicate_checks=duplicate_checks,
    )


def _read(
    folder: AppFiles, path: str, kind: str, errors: list[DefinitionError]
) -> SourceDocument | None:
    """Load one file; ``None`` (with errors recorded) when it cannot be read as a mapping."""
    display = folder.display(path)
    if kind == "app" and not folder.exists():
        errors.append(
            DefinitionError(folder.name, 1, 1, "not a folder; give the folder that holds app.yaml")
        )
        return None
    raw = folder.read(path)
    if raw is None:
        message = (
            "no app.yaml here; an app folder starts with app.yaml"
            if kind == "app"
            else "cannot read file: no such file"
        )
        errors.append(DefinitionError(display, 1, 1, message))
        return None
    try:
        document = parse_document(raw, display)
    except SourceError as exc:
        errors.append(exc.error)
        return None
    if not isinstance(document.data, dict):
        errors.append(
            document.error_at_value((), f"a {kind} file must be a mapping of keys to values")
        )
        return None
    return document


def _read_valid(
    folder: AppFiles, path: str, kind: str, errors: list[DefinitionError]
) -> SourceDocument | None:
    """Load one file and check it against its schema; ``None`` unless it passes."""
    document = _read(folder, path, kind, errors)
    if document is None:
        return None
    found = schema_errors(document, kind)
    errors.extend(found)
    return None if found else document


def _read_included(folder: AppFiles, app: SourceDocument, errors: list[DefinitionError]) -> _Files:
    digest = hashlib.sha256()
    digest.update(folder.read(APP_FILE) or b"")
    documents: dict[str, list[SourceDocument]] = {kind: [] for kind in INCLUDE_KINDS.values()}
    seen: set[str] = set()
    declared_forms: set[str] = set()
    for part, kind in INCLUDE_KINDS.items():
        for index, entry in enumerate(app.data["include"].get(part, [])):
            for path in _expand(folder, entry, app, ("include", part, index), errors):
                if path in seen:
                    continue
                seen.add(path)
                digest.update(path.encode() + b"\0" + (folder.read(path) or b""))
                document = _read(folder, path, kind, errors)
                found = [] if document is None else schema_errors(document, kind)
                errors.extend(found)
                if kind == "form":
                    declared_forms.update(_form_keys_of(path, document, bool(found)))
                if document is not None and not found:
                    documents[kind].append(document)
    return _Files(documents, frozenset(declared_forms), digest.hexdigest())


def _form_keys_of(path: str, document: SourceDocument | None, broken: bool) -> set[str]:
    """The form keys a form file declares, for other files' references to it. A file that
    cannot be read or checked answers for the key it holds and for its name (``item.yaml``
    holds ``item`` by convention), so a link to it is not reported as unknown besides the
    file's own problem."""
    key = None if document is None else document.data.get("key")
    keys = {key} if isinstance(key, str) else set()
    if document is None or broken:
        keys.add(PurePosixPath(path).stem)
    return keys


def _expand(
    folder: AppFiles,
    entry: str,
    app: SourceDocument,
    path: tuple[str | int, ...],
    errors: list[DefinitionError],
) -> list[str]:
    """The files one include entry names: a relative path or a glob inside the app folder."""
    relative = PurePosixPath(entry)
    if relative.is_absolute() or ".." in relative.parts:
        errors.append(app.error_at_value(path, f"'{entry}' must be a path inside the app folder"))
        return []
    if any(char in entry for char in "*?["):
        matches = folder.glob(entry)
        if not matches:
            errors.append(app.error_at_value(path, f"'{entry}' matches no file"))
        return matches
    if folder.read(relative.as_posix()) is None:
        errors.append(app.error_at_value(path, f"file '{entry}' does not exist"))
        return []
    return [relative.as_posix()]


def _roles(app: SourceDocument, errors: list[DefinitionError]) -> tuple[Role, ...]:
    roles: dict[str, Role] = {}
    for index, item in enumerate(app.data["roles"]):
        if item["key"] in roles:
            errors.append(
                app.error_at_value(("roles", index, "key"), f"duplicate role '{item['key']}'")
            )
            continue
        roles[item["key"]] = Role(
            item["key"], label(item["label"]), optional_label(item.get("description"))
        )
    return tuple(roles.values())


def _menu(
    app: SourceDocument,
    forms: Mapping[str, Form],
    declared: frozenset[str],
    errors: list[DefinitionError],
) -> tuple[MenuGroup, ...]:
    """The navigation's groups; each names forms of the app, each form at most once (a
    form whose file has problems of its own is left out without another)."""
    groups: list[MenuGroup] = []
    seen: set[str] = set()
    for index, item in enumerate(app.data.get("menu", [])):
        keys: list[str] = []
        for position, key in enumerate(item["forms"]):
            path = ("menu", index, "forms", position)
            if key not in forms:
                if key not in declared:
                    errors.append(app.error_at_value(path, unknown("form", key, forms)))
            elif key in seen:
                errors.append(app.error_at_value(path, f"form '{key}' is already in the menu"))
            else:
                seen.add(key)
                keys.append(key)
        groups.append(MenuGroup(tuple(keys), optional_label(item.get("label"))))
    return tuple(groups)


def _compile_all(
    documents: list[SourceDocument],
    kind: str,
    errors: list[DefinitionError],
    compile_one: Callable[[DocumentCompiler], Any],
    context: AppContext,
) -> dict[str, Any]:
    """Compile every document of one kind, refusing a key that two files declare."""
    compiled: dict[str, Any] = {}
    first_file: dict[str, str] = {}
    for document in documents:
        key = document.data["key"]
        if key in first_file:
            errors.append(
                document.error_at_value(
                    ("key",), f"{kind} '{key}' is already defined in {first_file[key]}"
                )
            )
            continue
        first_file[key] = document.file
        result = compile_one(DocumentCompiler(document, context, errors))
        if result is not None:
            compiled[key] = result
    return compiled


def _with_date_indexes(
    forms: dict[str, Form], automations: Iterable[Automation]
) -> dict[str, Form]:
    """The forms, each date field a date-relative automation counts from indexed: its sweep
    finds the records due by that index, and the migration planner creates it."""
    wanted: dict[str, set[str]] = {}
    for automation in automations:
        if automation.trigger.kind is TriggerType.DATE and automation.trigger.date_field:
            wanted.setdefault(automation.form, set()).add(automation.trigger.date_field)
    for form_key, keys in wanted.items():
        form = forms[form_key]
        covered = {index.fields[0] for index in form.indexes} | {
            field.key for field in form.fields if field.indexed or field.unique
        }
        extra = tuple(Index((SortKey(key),), declared=False) for key in sorted(keys - covered))
        if extra:
            forms[form_key] = replace(form, indexes=(*form.indexes, *extra))
    return forms


def _with_agenda_indexes(forms: dict[str, Form]) -> dict[str, Form]:
    """The forms, each agenda item's (user, date) pair indexed unless an index already
    starts with it: the workbench asks every page view for one user's due records."""
    for form_key, form in forms.items():
        wanted = [(item.user, item.date) for item in form.agenda]
        covered = {index.fields[:2] for index in form.indexes}
        extra = tuple(
            Index((SortKey(user), SortKey(date)), declared=False)
            for user, date in dict.fromkeys(wanted)
            if (user, date) not in covered
        )
        if extra:
            forms[form_key] = replace(form, indexes=(*form.indexes, *extra))
    return forms
