"""Loading an app folder: find its files, check them all, and compile the :class:`App`.

This is the one entry point from YAML to the compiled model. It never stops at the first
problem: every file is read and checked, and all problems are raised together in one
:class:`DefinitionErrors`, sorted by file and position.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar

from formflow.definitions.dashboards import compile_dashboard
from formflow.definitions.forms import FormCompiler, FormContext, label, optional_label
from formflow.definitions.model import App, Dashboard, Form, Role, Workflow
from formflow.definitions.schemas import schema_errors
from formflow.definitions.source import SourceDocument, SourceError, load_document
from formflow.definitions.toolkit import BUILTIN_TOOLKIT, Toolkit
from formflow.definitions.workflows import compile_workflow
from formflow.errors import DefinitionError, DefinitionErrors

APP_FILE = "app.yaml"
INCLUDE_KINDS = {"forms": "form", "workflows": "workflow", "dashboards": "dashboard"}

T = TypeVar("T", Form, Workflow, Dashboard)


@dataclass
class _Files:
    """The documents of an app folder that passed their schema, by kind."""

    documents: dict[str, list[SourceDocument]]
    declared_forms: frozenset[str]
    digest: str


def load_app(app_dir: str | Path, *, toolkit: Toolkit = BUILTIN_TOOLKIT) -> App:
    """Compile the app in ``app_dir`` with the field types and expression functions of
    ``toolkit`` (the plugins'); raise :class:`DefinitionErrors` listing every problem."""
    folder = Path(app_dir)
    errors: list[DefinitionError] = []
    app_document = _read_valid(folder, folder / APP_FILE, "app", errors)
    if app_document is None:
        raise DefinitionErrors(errors)
    files = _read_included(folder, app_document, errors)
    data = app_document.data
    roles = _roles(app_document, errors)
    documents = files.documents
    context = FormContext(
        role_keys=frozenset(role.key for role in roles),
        form_keys=files.declared_forms,
        field_types=toolkit.field_types,
        expressions=toolkit.expressions,
    )
    forms = _compile_all(documents["form"], "form", errors, lambda c: c.compile(), context)
    workflows = _compile_all(
        documents["workflow"], "workflow", errors, lambda c: compile_workflow(c, forms), context
    )
    dashboards = _compile_all(
        documents["dashboard"], "dashboard", errors, lambda c: compile_dashboard(c, forms), context
    )
    if errors:
        raise DefinitionErrors(errors)
    return App(
        key=data["key"],
        version=data["version"],
        label=label(data["label"]),
        description=optional_label(data.get("description")),
        default_language=data.get("default_language", "zh"),
        roles=roles,
        forms=forms,
        workflows=workflows,
        dashboards=dashboards,
        digest=files.digest,
    )


def _read(
    folder: Path, path: Path, kind: str, errors: list[DefinitionError]
) -> SourceDocument | None:
    """Load one file; ``None`` (with errors recorded) when it cannot be read as a mapping."""
    display = str(path)
    if kind == "app" and not folder.is_dir():
        errors.append(
            DefinitionError(str(folder), 1, 1, "not a folder; give the folder that holds app.yaml")
        )
        return None
    if kind == "app" and not path.is_file():
        errors.append(
            DefinitionError(display, 1, 1, "no app.yaml here; an app folder starts with app.yaml")
        )
        return None
    try:
        document = load_document(path, display)
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
    folder: Path, path: Path, kind: str, errors: list[DefinitionError]
) -> SourceDocument | None:
    """Load one file and check it against its schema; ``None`` unless it passes."""
    document = _read(folder, path, kind, errors)
    if document is None:
        return None
    found = schema_errors(document, kind)
    errors.extend(found)
    return None if found else document


def _read_included(folder: Path, app: SourceDocument, errors: list[DefinitionError]) -> _Files:
    digest = hashlib.sha256()
    digest.update((folder / APP_FILE).read_bytes())
    documents: dict[str, list[SourceDocument]] = {kind: [] for kind in INCLUDE_KINDS.values()}
    seen: set[Path] = set()
    declared_forms: set[str] = set()
    for part, kind in INCLUDE_KINDS.items():
        for index, entry in enumerate(app.data["include"].get(part, [])):
            for path in _expand(folder, entry, app, ("include", part, index), errors):
                if path in seen:
                    continue
                seen.add(path)
                digest.update(
                    path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes()
                )
                document = _read(folder, path, kind, errors)
                if document is None:
                    continue
                if kind == "form" and isinstance(document.data.get("key"), str):
                    declared_forms.add(document.data["key"])
                found = schema_errors(document, kind)
                errors.extend(found)
                if not found:
                    documents[kind].append(document)
    return _Files(documents, frozenset(declared_forms), digest.hexdigest())


def _expand(
    folder: Path,
    entry: str,
    app: SourceDocument,
    path: tuple[str | int, ...],
    errors: list[DefinitionError],
) -> list[Path]:
    """The files one include entry names: a relative path or a glob inside the app folder."""
    relative = PurePosixPath(entry)
    if relative.is_absolute() or ".." in relative.parts:
        errors.append(app.error_at_value(path, f"'{entry}' must be a path inside the app folder"))
        return []
    if any(char in entry for char in "*?["):
        matches = sorted(p for p in folder.glob(entry) if p.is_file())
        if not matches:
            errors.append(app.error_at_value(path, f"'{entry}' matches no file"))
        return matches
    target = folder / relative
    if not target.is_file():
        errors.append(app.error_at_value(path, f"file '{entry}' does not exist"))
        return []
    return [target]


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


def _compile_all(
    documents: list[SourceDocument],
    kind: str,
    errors: list[DefinitionError],
    compile_one: Callable[[FormCompiler], Any],
    context: FormContext,
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
        result = compile_one(FormCompiler(document, context, errors))
        if result is not None:
            compiled[key] = result
    return compiled
