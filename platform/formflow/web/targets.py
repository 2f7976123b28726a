"""What every record page starts from: the form asked about, the service and the actor,
and the names and titles a page shows for the ids it holds.

Titles of linked records are fetched through the record service as the signed-in actor,
one statement per linked form. A link held by a record the person has read shows its
title even where they may not open the record behind it (see
:meth:`RecordService.referenced_titles`); an id a request names (a filter's, a form's
input) is only named when the person may read that record.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from flask import abort, url_for

from formflow.accounts.directory import Directory, load_directory
from formflow.definitions.model import App, Field, Form, Operation, Scope
from formflow.fields import Reference, ValueKind
from formflow.records import (
    MAX_LIMIT,
    Actor,
    Context,
    Page,
    Query,
    RecordService,
    refusal,
    scope_for,
)
from formflow.storage.database import read_transaction
from formflow.web import context
from formflow.web.display import Displayer, Unlinked
from formflow.web.ids import parse_id


@dataclass(frozen=True)
class Target:
    """The form a request is about, its app's record service and the signed-in actor."""

    app_key: str
    form: Form
    service: RecordService
    actor: Actor

    @property
    def app(self) -> App:
        return self.service.app

    @cached_property
    def list_address(self) -> str:
        return url_for("records.index", app_key=self.app_key, form_key=self.form.key)

    @cached_property
    def hidden(self) -> frozenset[str]:
        """The fields of the form the actor may not see: no page shows or asks for them."""
        return self.service.field_access(self.actor, self.form.key).hidden

    def fixed(self, *, creating: bool) -> frozenset[str]:
        """The fields the actor may not change (shown, not asked for), and the hidden ones."""
        access = self.service.field_access(self.actor, self.form.key, creating=creating)
        return frozenset(access.fixed) | access.hidden

    def may_reassign(self) -> bool:
        """Whether the actor may hand the form's records to others (or make them for others)."""
        return self.service.field_access(self.actor, self.form.key, creating=True).may_reassign

    def can(self, operation: Operation, form: Form | None = None) -> bool:
        return scope_for(self.actor, form or self.form, operation) is not Scope.NONE

    def may_change(self, operation: Operation, record: Mapping[str, Any]) -> bool:
        """Whether to offer an edit or delete button (the service decides for real)."""
        scope = scope_for(self.actor, self.form, operation)
        if scope is Scope.OWN:
            return record.get(self.form.owner_field) == self.actor.user_id
        return scope is not Scope.NONE

    def context(self) -> Context:
        return self.service.context(self.actor)


def target(app_key: str, form_key: str) -> Target:
    instance = context.instance()
    if app_key not in instance.app_keys:
        abort(404)
    service = instance.records(app_key)
    if form_key not in service.app.forms:
        abort(404)
    return Target(app_key, service.app.form(form_key), service, context.actor(app_key))


def refuse(t: Target, operation: Operation) -> None:
    if not t.can(operation):
        raise refusal(operation, t.form)


# names, titles, display -------------------------------------------------------------------


def load_names(users: bool = True, departments: bool = True) -> Directory:
    if not (users or departments):
        return Directory()
    with read_transaction(context.instance().engine) as connection:
        return load_directory(connection, with_users=users, with_departments=departments)


def names_needed(form: Form, keys: Iterable[str]) -> tuple[bool, bool]:
    users = departments = False
    for key in keys:
        if key in ("created_by", "updated_by"):
            users = True
        elif form.has_field(key):
            found = form.field(key)
            # subtable columns too
            references = {f.field_type.reference for f in (found, *found.fields)}
            users = users or Reference.USER in references
            departments = departments or Reference.DEPARTMENT in references
    return users, departments


def link_ids(
    form: Form, records: Iterable[Mapping[str, Any]], keys: Iterable[str] | None = None
) -> dict[str, set[int]]:
    """The ids each link field (top level or in rows) of ``records`` points at, by form."""
    chosen = set(keys) if keys is not None else None
    wanted: dict[str, set[int]] = {}
    for record in records:
        for found in form.fields:
            if chosen is not None and found.key not in chosen:
                continue
            if found.is_link:
                _add_id(wanted, found, record.get(found.key))
            elif found.kind is ValueKind.ROWS:
                for row in record.get(found.key) or []:
                    for sub in found.fields:
                        if sub.is_link and isinstance(row, Mapping):
                            _add_id(wanted, sub, row.get(sub.key))
    return wanted


def _add_id(wanted: dict[str, set[int]], found: Field, value: Any) -> None:
    if isinstance(value, int) and not isinstance(value, bool) and found.target_form:
        wanted.setdefault(found.target_form, set()).add(value)
    elif isinstance(value, str) and (record_id := parse_id(value)) and found.target_form:
        wanted.setdefault(found.target_form, set()).add(record_id)


def merge_ids(*parts: Mapping[str, set[int]]) -> dict[str, set[int]]:
    merged: dict[str, set[int]] = {}
    for part in parts:
        for key, ids in part.items():
            merged.setdefault(key, set()).update(ids)
    return merged


def titles_for(
    t: Target,
    wanted: Mapping[str, set[int]],
    directory: Directory,
    *,
    held: Mapping[str, set[int]] | None = None,
) -> dict[tuple[str, int], str]:
    """The titles of linked records the actor may read: one statement per linked form
    (per 500 ids), through the service, so scopes apply. Ids ``held`` by records the
    actor has read are named even when the actor may not read them, as :class:`Unlinked`
    titles that pages show without a link; other ids stay unnamed."""
    found = _readable_titles(t, merge_ids(wanted, held or {}), directory)
    shower = Displayer(t.app, directory=directory, timezone=t.service.timezone)
    for form_key, ids in sorted((held or {}).items()):
        missing = sorted(i for i in ids if (form_key, i) not in found)
        if not missing or form_key not in t.app.forms:
            continue
        linked = t.app.form(form_key)
        for start in range(0, len(missing), MAX_LIMIT):
            rows = t.service.referenced_titles(form_key, missing[start : start + MAX_LIMIT])
            for record_id, row in rows.items():
                found[(form_key, record_id)] = Unlinked(shower.title(linked, row))
    return found


def _readable_titles(
    t: Target, wanted: Mapping[str, set[int]], directory: Directory
) -> dict[tuple[str, int], str]:
    found: dict[tuple[str, int], str] = {}
    shower = Displayer(t.app, directory=directory, timezone=t.service.timezone)
    for form_key, ids in sorted(wanted.items()):
        if not ids or form_key not in t.app.forms:
            continue
        linked = t.app.form(form_key)
        if not t.can(Operation.READ, linked):
            continue
        ordered = sorted(ids)
        for start in range(0, len(ordered), MAX_LIMIT):
            rows = t.service.titles(t.actor, form_key, ordered[start : start + MAX_LIMIT])
            for record_id, row in rows.items():
                found[(form_key, record_id)] = shower.title(linked, row)
    return found


def displayer(
    t: Target,
    directory: Directory,
    titles: Mapping[tuple[str, int], str],
    record_id: int | None = None,
) -> Displayer:
    record_url = record_urls(t.app_key)

    def file_url(file_id: str) -> str:
        return url_for(
            "uploads.download",
            app_key=t.app_key,
            form_key=t.form.key,
            record_id=record_id,
            file_id=file_id,
        )

    return Displayer(
        t.app,
        directory=directory,
        titles=titles,
        timezone=t.service.timezone,
        record_url=record_url,
        file_url=file_url if record_id is not None else None,
    )


def record_urls(app_key: str) -> Callable[[str, int], str]:
    """The address of a record's page, by form and id, for pages that link many records.

    A record's page lives at its list's address plus the id (see the records routes), so
    one ``url_for`` per form serves every row instead of one per row.
    """
    lists: dict[str, str] = {}

    def record_url(form_key: str, record_id: int) -> str:
        if form_key not in lists:
            lists[form_key] = url_for("records.index", app_key=app_key, form_key=form_key)
        return f"{lists[form_key]}{record_id}"

    return record_url


def search_records(
    t: Target, form_key: str, typed: str, limit: int, narrow: Mapping[str, Any] | None = None
) -> Page:
    """Records of ``form_key`` the actor may read that match ``typed``: by the form's
    search fields, else by its title; the most recent when nothing is typed. ``narrow``
    keeps those whose fields hold the given values (a link's ``link_filter``)."""
    return _search_records(t, form_key, typed, limit, narrow or {})


def _search_records(
    t: Target, form_key: str, typed: str, limit: int, narrow: Mapping[str, Any]
) -> Page:
    linked = t.app.form(form_key)
    typed = typed.strip()[:100]
    title = linked.field(linked.title_field)
    if not typed:
        query = Query(limit=limit, with_total=False)
    elif linked.list_view.search:
        query = Query(search=typed, limit=limit, with_total=False)
    elif title.kind is ValueKind.TEXT and not title.options:
        query = Query(
            filter={"field": title.key, "op": "contains", "value": typed},
            limit=limit,
            with_total=False,
        )
    elif (record_id := parse_id(typed)) is not None:
        query = Query(
            filter={"field": "id", "op": "eq", "value": record_id}, limit=limit, with_total=False
        )
    else:
        return Page([], None, False, None)
    if narrow:
        equal = [{"field": key, "op": "eq", "value": value} for key, value in narrow.items()]
        given = [query.filter] if query.filter is not None else []
        query = dataclasses.replace(query, filter={"and": [*given, *equal]})
    return t.service.find(t.actor, form_key, query)
