"""Upgrading a customised app: the new release merged into a draft, resolved, then published.

The release an app was installed from is kept (``ff_app_releases``) as the *base*; the
admin's app in force is *ours*; the new release's folder is *theirs*. :func:`start_upgrade`
writes the keyed three-way merge (:mod:`formflow.designer.merge`) into the app's draft and
keeps the report with the admin's choices (``ff_designer_upgrades``); the live app does not
change. Each issue is resolved on the draft (:func:`resolve`); the draft is published the
usual way once none is left, and the release then becomes the app's base.

An imported bundle (an export of this app, from here or another instance) is merged the same
way, against the same base, and answered on the same page; publishing it does not make it
the base: what it changes stays the admin's, for the next release to merge with.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, delete, select

from formflow.designer.documents import Document, DocumentError, yaml_node
from formflow.designer.drafts import DraftError, open_draft, replace_draft
from formflow.designer.merge import (
    CONFLICT,
    DECISION,
    ORDER,
    ORPHAN,
    Issue,
    Merged,
    MergeError,
    MergeResult,
    Side,
    identity_of,
    insert_after,
    merge_release,
    reorder,
    resolve,
)
from formflow.designer.operations import HIDDEN_CONDITION
from formflow.designer.undo import forget_steps
from formflow.errors import DefinitionError, DefinitionErrors
from formflow.storage.platform_tables import app_releases, designer_publications, designer_upgrades
from formflow.storage.versions import current_version, list_versions

CHOICES = {
    CONFLICT: ("ours", "theirs", "draft"),
    ORPHAN: ("place", "drop"),
    DECISION: ("confirm", "hide"),
}
"""What an admin may answer to each kind of issue: keep yours, take the release's, or keep
the draft as edited by hand; place an orphan (after an item) or drop it; confirm a new field
or hide it."""


class UpgradeError(DraftError):
    """An upgrade cannot be started or resolved as asked."""


class NoRelease(UpgradeError):
    """The app has no release to merge against (it was never installed)."""


class UpgradeUnresolved(UpgradeError):
    """The draft holds an upgrade with issues not resolved yet, so it cannot be published."""


RELEASE = "release"
IMPORT = "import"
"""Where the files merged into the draft came from: a new release, or an imported bundle."""

PLUGIN_PROBLEMS = ("unknown field type ", "unknown action ", "unknown function ")
"""How the compiler names what only a plugin could provide."""


class ReleaseRefused(UpgradeError):
    """The release (or bundle) does not compile on this instance; nothing was written.
    ``missing`` holds what a plugin would provide (field types, actions, functions that
    no installed plugin has), listed first, then ``errors``, every other problem."""

    def __init__(self, problems: DefinitionErrors) -> None:
        self.missing: tuple[DefinitionError, ...] = tuple(
            error for error in problems if error.message.startswith(PLUGIN_PROBLEMS)
        )
        self.errors: tuple[DefinitionError, ...] = tuple(
            error for error in problems if error not in self.missing
        )
        lines = [f"missing plugin: {error}" for error in self.missing]
        lines += [str(error) for error in self.errors]
        super().__init__("it does not compile on this instance:\n" + "\n".join(lines))


@dataclass(frozen=True)
class Upgrade:
    """An upgrade being resolved: the release, the merge's report and the choices made."""

    app_key: str
    version_label: str
    files: Mapping[str, str] = field(hash=False)
    merged: tuple[Merged, ...] = ()
    issues: tuple[Issue, ...] = ()
    choices: Mapping[str, str] = field(default_factory=dict, hash=False)
    source: str = RELEASE

    @property
    def unresolved(self) -> list[Issue]:
        return [issue for issue in self.issues if issue.id not in self.choices]


@dataclass(frozen=True)
class Answer:
    """The admin's answer to one issue: a ``choice`` among :data:`CHOICES` for its kind and,
    to place an orphan, the item it goes ``after`` (first when ``None``)."""

    issue_id: str
    choice: str
    after: str | None = None


def record_release(
    connection: Connection, app_key: str, version_label: str, files: Mapping[str, str]
) -> None:
    """Remember ``files`` as the release ``app_key`` now runs (the next upgrade's base)."""
    connection.execute(delete(app_releases).where(app_releases.c.app_key == app_key))
    connection.execute(
        app_releases.insert().values(
            app_key=app_key,
            version_label=version_label,
            files=dict(files),
            recorded_at=datetime.now(UTC),
        )
    )


def release_files(connection: Connection, app_key: str) -> dict[str, str]:
    """The files of the release the app came from. An instance installed before releases
    were kept falls back to its newest version that the designer did not publish."""
    row = connection.execute(
        select(app_releases.c.files).where(app_releases.c.app_key == app_key)
    ).first()
    if row is not None:
        return dict(row[0])
    published = set(
        connection.execute(
            select(designer_publications.c.version_number).where(
                designer_publications.c.app_key == app_key
            )
        ).scalars()
    )
    for version in reversed(list_versions(connection, app_key)):
        if version.number not in published:
            return dict(version.files)
    raise NoRelease(f"app '{app_key}' is not installed: install it rather than upgrade it")


def plan_upgrade(connection: Connection, app_key: str, files: Mapping[str, str]) -> MergeResult:
    """The merge of the release ``files`` into the app in force, nothing written."""
    live = current_version(connection, app_key)
    if live is None:
        raise NoRelease(f"app '{app_key}' is not installed: install it rather than upgrade it")
    return merge_release(release_files(connection, app_key), dict(live.files), files)


def start_upgrade(
    connection: Connection,
    app_key: str,
    version_label: str,
    files: Mapping[str, str],
    user_id: int | None,
    source: str = RELEASE,
) -> Upgrade:
    """Write the merge into the app's draft and keep its report; refused while the draft
    holds unpublished work (it would be lost) or another upgrade is being resolved.
    ``source`` says whether ``files`` are a release or an imported bundle."""
    require_clean_draft(connection, app_key, "upgrading" if source == RELEASE else "importing")
    result = plan_upgrade(connection, app_key, files)
    forget_steps(connection, app_key)
    replace_draft(connection, app_key, result.files, user_id)
    connection.execute(
        designer_upgrades.insert().values(
            app_key=app_key,
            version_label=version_label,
            files=dict(files),
            report={
                "merged": [item.stored() for item in result.merged],
                "issues": [issue.stored() for issue in result.issues],
                "source": source,
            },
            choices={},
            started_by=user_id,
            started_at=datetime.now(UTC),
        )
    )
    return Upgrade(app_key, version_label, dict(files), result.merged, result.issues, {}, source)


def require_clean_draft(connection: Connection, app_key: str, doing: str) -> None:
    """Refuse (:class:`UpgradeError`) to replace a draft that holds unpublished work or an
    upgrade being resolved: replacing it would lose them. ``doing`` names what waits."""
    if pending(connection, app_key) is not None:
        raise UpgradeError(
            f"an upgrade of '{app_key}' is being resolved: publish or discard its draft first"
        )
    draft = open_draft(connection, app_key)
    live = current_version(connection, app_key)
    if live is not None and draft.texts() != dict(live.files):
        raise UpgradeError(
            f"the draft holds changes that are not published; publish or discard them "
            f"before {doing}"
        )


def pending(connection: Connection, app_key: str) -> Upgrade | None:
    """The upgrade of ``app_key`` being resolved, if any."""
    row = (
        connection.execute(select(designer_upgrades).where(designer_upgrades.c.app_key == app_key))
        .mappings()
        .first()
    )
    if row is None:
        return None
    report = row["report"]
    return Upgrade(
        app_key,
        row["version_label"],
        dict(row["files"]),
        tuple(Merged.from_stored(item) for item in report["merged"]),
        tuple(Issue.from_stored(item) for item in report["issues"]),
        dict(row["choices"]),
        str(report.get("source", RELEASE)),
    )


def resolve_issue(
    connection: Connection, app_key: str, answer: Answer, user_id: int | None
) -> Upgrade:
    """Apply the admin's ``answer`` to the draft and remember its choice, which may be made
    again."""
    upgrade = pending(connection, app_key)
    if upgrade is None:
        raise UpgradeError(f"no upgrade of '{app_key}' is being resolved")
    issue = next((item for item in upgrade.issues if item.id == answer.issue_id), None)
    if issue is None:
        raise UpgradeError(f"the upgrade has no issue {answer.issue_id!r}")
    if answer.choice not in CHOICES[issue.kind]:
        raise UpgradeError(
            f"a {issue.kind} is resolved with one of {', '.join(CHOICES[issue.kind])}"
        )
    files = open_draft(connection, app_key).texts()
    try:
        _apply(files, issue, answer.choice, answer.after)
    except MergeError as exc:
        raise UpgradeError(f"{issue.path} {issue.subject}: {exc}") from None
    replace_draft(connection, app_key, files, user_id)
    choices = {**upgrade.choices, answer.issue_id: answer.choice}
    connection.execute(
        designer_upgrades.update()
        .where(designer_upgrades.c.app_key == app_key)
        .values(choices=choices)
    )
    return Upgrade(
        app_key,
        upgrade.version_label,
        upgrade.files,
        upgrade.merged,
        upgrade.issues,
        choices,
        upgrade.source,
    )


def finish(connection: Connection, app_key: str) -> None:
    """At publish: the upgrade's release becomes the app's base (an imported bundle does
    not: its changes stay the admin's); refused while issues are left
    (:class:`UpgradeUnresolved`). Nothing happens without an upgrade."""
    upgrade = pending(connection, app_key)
    if upgrade is None:
        return
    if upgrade.unresolved:
        raise UpgradeUnresolved(unresolved_message(upgrade))
    if upgrade.source == RELEASE:
        record_release(connection, app_key, upgrade.version_label, upgrade.files)
    forget(connection, app_key)


def forget(connection: Connection, app_key: str) -> None:
    """Drop the upgrade being resolved (its draft is discarded)."""
    connection.execute(delete(designer_upgrades).where(designer_upgrades.c.app_key == app_key))


def unresolved_message(upgrade: Upgrade) -> str:
    count = len(upgrade.unresolved)
    return (
        f"the upgrade to {upgrade.version_label} has {count} "
        f"{'issue' if count == 1 else 'issues'} to resolve before publishing"
    )


def _apply(files: dict[str, str], issue: Issue, choice: str, after: str | None) -> None:
    if choice in ("draft", "confirm"):
        return
    if not issue.where:  # a whole file
        side = issue.theirs if choice == "theirs" or choice == "drop" else issue.ours
        if side.present:
            files[issue.path] = str(side.value)
        else:
            files.pop(issue.path, None)
        return
    if issue.path not in files:
        raise MergeError("the draft no longer has this file")
    document = Document(issue.path, files[issue.path])
    if choice == "hide":
        _set(document.data, (*issue.where, "visible_if"), Side(True, HIDDEN_CONDITION))
    elif issue.where[-1] == ORDER:
        side = issue.ours if choice == "ours" else issue.theirs
        reorder(document, issue.where[:-1], [str(key) for key in side.value])
    elif choice == "place":
        _remove_at(document.data, issue.where)
        items = resolve(document.data, issue.where[:-1])
        insert_after(items, yaml_node(issue.ours.value), after, identity_of(items) or "key")
    elif choice == "drop":
        _remove_at(document.data, issue.where)
    else:
        _set(document.data, issue.where, issue.ours if choice == "ours" else issue.theirs)
    document.changed = True
    files[issue.path] = document.text()


def _set(data: Any, where: tuple[Any, ...], side: Side) -> None:
    parent = resolve(data, where[:-1])
    last = where[-1]
    if not side.present:
        _remove_at(data, where)
    elif isinstance(parent, Mapping):
        parent[last] = yaml_node(side.value)  # type: ignore[index]
    else:
        ident = identity_of(parent) or "key"
        keys = [item.get(ident) for item in parent]
        if last in keys:
            parent[keys.index(last)] = yaml_node(side.value)
        else:
            parent.append(yaml_node(side.value))


def _remove_at(data: Any, where: tuple[Any, ...]) -> None:
    parent = resolve(data, where[:-1])
    last = where[-1]
    if isinstance(parent, Mapping):
        parent.pop(last, None)  # type: ignore[attr-defined]
        return
    ident = identity_of(parent) or "key"
    for position, item in enumerate(parent):
        if item.get(ident) == last:
            del parent[position]
            return


def report_lines(merged: tuple[Merged, ...], issues: tuple[Issue, ...]) -> list[str]:
    """The merge's report for a terminal: what merged by itself, then every issue."""
    lines = [f"merged by itself: {len(merged)}"]
    lines += [f"  {item.side} {item.action}: {item.path} {item.subject}" for item in merged]
    for kind in (CONFLICT, ORPHAN, DECISION):
        found = [issue for issue in issues if issue.kind == kind]
        lines.append(f"{kind}s: {len(found)}")
        lines += [f"  {_issue_line(issue)}" for issue in found]
    return lines


def _issue_line(issue: Issue) -> str:
    where = f"{issue.path} {issue.subject}"
    if issue.kind == CONFLICT:
        return (
            f"{where}: shipped before {_shown(issue.base)}, shipped now {_shown(issue.theirs)}, "
            f"yours {_shown(issue.ours)}"
        )
    if issue.kind == ORPHAN and issue.anchor is not None:
        return f"{where}: yours was after '{issue.anchor}', which the release removes"
    if issue.kind == ORPHAN:
        return f"{where}: you changed it, and the release removes it"
    steps = ", ".join(issue.ours.value or []) or "none"
    return f"{where}: the release adds it to a form you customised (flow steps keeping it locked: {steps})"


def _shown(side: Side) -> str:
    return shown(side) or "(none)"


def placements(files: Mapping[str, str], issue: Issue) -> tuple[list[str], str | None]:
    """The items an orphan can be placed after (its list's items in the draft, but itself),
    and the one it waits after now (``None`` when first or out of the draft)."""
    if issue.kind != ORPHAN or not issue.where or issue.path not in files:
        return [], None
    try:
        items = resolve(Document(issue.path, files[issue.path]).data, issue.where[:-1])
    except (MergeError, DocumentError):
        return [], None
    ident = identity_of(items) or "key"
    keys = [str(item.get(ident)) for item in items]
    own = str(issue.where[-1])
    waiting = keys[keys.index(own) - 1] if own in keys and keys.index(own) > 0 else None
    return [key for key in keys if key != own], waiting


def shown(side: Side) -> str:
    """A side's value for people: compact JSON, or nothing when the side lacks it."""
    return json.dumps(side.value, ensure_ascii=False) if side.present else ""
