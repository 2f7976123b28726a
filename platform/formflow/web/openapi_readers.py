"""The OpenAPI document as its reader may see it: without the fields hidden from them.

The document names every field of every form, in its record, input, filter, sort and
``fields`` schemas. A field hidden from a role (``permissions.ROLE.fields``) must not be
named to that role, so the document served is built from the apps as the reader sees them:
for a token's user, without the fields their roles hide (the record service's own answer,
:meth:`formflow.records.RecordService.field_access`); for a reader who gives no token,
without every field hidden from any role. The whole document stays what requests are
checked against (:func:`formflow.web.api.conformance`): a field the caller may not see is
then refused by the record service, as unknown.

A document is built once per set of definition digests and of hidden fields: there are few
mixes of roles, so few documents.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from dataclasses import replace

from formflow.definitions.model import App, FieldRule, Form
from formflow.web import openapi

Hidden = tuple[tuple[str, str, tuple[str, ...]], ...]
"""(app key, form key, the keys hidden from the reader) of each form hiding any field."""
MAX_VIEWS = 32
"""How many readers' documents are kept; past it, the oldest is built again when asked."""


def hidden_from_reader(
    apps: Sequence[App], hidden_of: Callable[[App, Form], frozenset[str]] | None
) -> Hidden:
    """The fields of each form that ``hidden_of`` says are hidden from the reader; with no
    such answer (a reader who gave no token), every field hidden from any role."""
    found = []
    for app in apps:
        for form in app.forms.values():
            hidden = _hidden_from_some(form) if hidden_of is None else hidden_of(app, form)
            if hidden:
                found.append((app.key, form.key, tuple(sorted(hidden))))
    return tuple(found)


def _hidden_from_some(form: Form) -> frozenset[str]:
    return frozenset(
        key
        for permission in form.permissions.values()
        for key, rule in permission.fields.items()
        if rule is FieldRule.HIDDEN
    )


def readable(apps: Sequence[App], hidden: Hidden) -> list[App]:
    """``apps`` with the ``hidden`` fields taken out of their forms."""
    by_form = {(app_key, form_key): set(keys) for app_key, form_key, keys in hidden}
    shown = []
    for app in apps:
        forms: Mapping[str, Form] = {
            key: _without(form, by_form.get((app.key, key), set()))
            for key, form in app.forms.items()
        }
        shown.append(replace(app, forms=forms))
    return shown


def _without(form: Form, hidden: set[str]) -> Form:
    if not hidden:
        return form
    return replace(form, fields=tuple(f for f in form.fields if f.key not in hidden))


def served(apps: Sequence[App], hidden: Hidden, cache: MutableMapping[object, str]) -> str:
    """The document as JSON text for a reader from whom ``hidden`` is hidden, kept in
    ``cache`` by digests and hidden fields."""
    digests = tuple((app.key, app.digest) for app in apps)
    key = (digests, hidden)
    if key not in cache:
        for old in [old for old in cache if not isinstance(old, tuple) or old[0] != digests]:
            del cache[old]  # documents of definitions no longer in force
        while len(cache) >= MAX_VIEWS:
            del cache[next(iter(cache))]
        built = openapi.build_document(readable(apps, hidden))
        cache[key] = json.dumps(built, ensure_ascii=False)
    return cache[key]
