"""What a ``notify`` step tells the roles it names must not include a field hidden from them.

A notification's title and body are templates over the record; rendered for a role from
which one of the fields they read is hidden, the message shows what that role's pages hide.
The steps of automations, record actions and workflows are checked alike. People named by
``users`` or ``user_field`` are not: their roles are known only when the step runs, which
renders the text for each of them without the fields hidden from them
(:mod:`formflow.notifications.action`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from jinja2 import Environment, TemplateSyntaxError, meta

from formflow.definitions.model import FieldRule, Form

TEMPLATES = ("title", "body")
"""The parameters of a ``notify`` step that are rendered for the people told."""


def hidden_from_told(
    form: Form, environment: Environment, params: Mapping[str, Any]
) -> Iterator[tuple[str, str]]:
    """Each template parameter of a ``notify`` step's ``params`` that renders a field of
    ``form`` hidden from one of its ``roles``, with the error to report there."""
    roles = params.get("roles")
    if not isinstance(roles, list):
        return
    for key in TEMPLATES:
        source = params.get(key)
        if not isinstance(source, str):
            continue
        try:
            read = meta.find_undeclared_variables(environment.parse(source))
        except TemplateSyntaxError:
            continue  # the template's own check says so
        for role in (role for role in roles if isinstance(role, str)):
            hidden = sorted(
                name
                for name in read
                if form.has_field(name)
                and form.permission(role).field_rule(name) is FieldRule.HIDDEN
            )
            if hidden:
                yield (
                    key,
                    (
                        f"the notification to '{role}' renders '{hidden[0]}', which is hidden"
                        f" from '{role}'"
                    ),
                )
