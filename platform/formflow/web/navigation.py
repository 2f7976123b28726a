"""What the side navigation shows: the installed apps and the forms a user may read.

The links depend only on the app's version, the user's roles and the language, so they are
worked out once for each such combination and kept, rather than on every page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import request, url_for

from formflow.dashboards import visible_dashboards
from formflow.definitions.model import App, Operation, Scope
from formflow.records import scope_for
from formflow.web import context
from formflow.web.i18n import language, text

_KEPT = 512


@dataclass(frozen=True)
class NavSection:
    """One installed app: its dashboards, then its forms in the app's menu order and groups."""

    app_key: str
    label: str
    dashboards: tuple[NavLink, ...]
    groups: tuple[NavGroup, ...]

    @property
    def links(self) -> tuple[NavLink, ...]:
        """Every form link of the section, group after group."""
        return tuple(link for group in self.groups for link in group.links)


@dataclass(frozen=True)
class NavGroup:
    """Forms the app's ``menu`` shows together; ``label`` empty for an unnamed group."""

    label: str
    links: tuple[NavLink, ...]


@dataclass(frozen=True)
class NavLink:
    form_key: str
    label: str
    href: str


_sections: dict[tuple[str, frozenset[str], bool, str, str], tuple[App, NavSection]] = {}


def nav_sections() -> list[NavSection]:
    """One section per installed app, listing the forms the signed-in user may read."""
    instance = context.instance()
    return [_section(app_key, instance.app(app_key)) for app_key in instance.app_keys]


def _section(app_key: str, app: App) -> NavSection:
    actor = context.actor(app_key)
    key = (app_key, actor.roles, actor.is_admin, language(), request.script_root)
    kept = _sections.get(key)
    if kept is not None and kept[0] is app:
        return kept[1]
    groups = []
    for group in app.menu_groups():
        readable = [app.form(key) for key in group.forms]
        group_links = tuple(
            NavLink(
                form.key,
                text(form.label),
                url_for("records.index", app_key=app_key, form_key=form.key),
            )
            for form in readable
            if scope_for(actor, form, Operation.READ) is not Scope.NONE
        )
        if group_links:
            groups.append(NavGroup(text(group.label) if group.label else "", group_links))
    boards = tuple(
        NavLink(
            board.key, text(board.label), url_for("dashboards.page", app_key=app_key, key=board.key)
        )
        for board in visible_dashboards(actor, app)
    )
    section = NavSection(app_key, text(app.label), boards, tuple(groups))
    if len(_sections) >= _KEPT:
        _sections.clear()
    _sections[key] = (app, section)
    return section


def context_processor() -> dict[str, Any]:
    return {"nav_sections": nav_sections}
