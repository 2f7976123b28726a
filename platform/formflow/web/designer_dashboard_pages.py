"""The dashboard designer page: arrange the widgets on a grid; compose a widget, preview it
on live rows, then Save.

Routes on the designer's blueprint. The choices travel in the address (a GET), so looking
at previews saves nothing; the Save button posts the same choices, which are written into
the draft's dashboard file like any designer step (undo takes them back). The grid is one
form: its cards' order, widths and Remove boxes are posted once, on Save. Without
JavaScript its arrow buttons post the arrangement too, and come back with the moved one in
the address, still unsaved.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from formflow.designer.arrangement import ArrangementRefused, Placement, problems_of, width_of
from formflow.designer.documents import DocumentError
from formflow.designer.drafts import DraftConflict
from formflow.designer.widgets import (
    KINDS,
    OPERATIONS,
    WidgetChoice,
    composer_values,
    parse_filters,
)
from formflow.errors import DefinitionErrors
from formflow.web import context
from formflow.web.dashboard_view import Labeller, widget_json
from formflow.web.designer_pages import (
    _draft,
    _located,
    blueprint,
    designer,
    flash_refusal,
    open_document,
)

CHOICES = ("key", "kind", "form", "label_zh", "label_en", "operation", "measure_field")
"""The widget's choices as the page's fields are named (with ``dimension``, ``filters``)."""


def _choice(values: Any) -> WidgetChoice:
    return WidgetChoice(
        key=values.get("key", "").strip() or "new_widget",
        kind=values.get("kind", "bar"),
        form=values.get("form", "").strip(),
        label_zh=values.get("label_zh", "").strip(),
        label_en=values.get("label_en", "").strip(),
        operation=values.get("operation", "count"),
        measure_field=values.get("measure_field", "").strip(),
        dimension=values.get("dimension", "").strip(),
        filters=parse_filters(values.get("filters", "")),
        width=values.get("width", 2, type=int),
    )


@blueprint.get("/<app_key>/dashboards/<dashboard_key>")
def dashboard(app_key: str, dashboard_key: str) -> Any:
    """The dashboard's widgets, and the form that composes a new one with its preview."""
    service = designer()
    document = open_document(_draft(service, app_key), "dashboards", dashboard_key)
    app = context.instance().app(app_key)
    preview = None
    errors: tuple[Any, ...] = ()
    problem = None
    if request.args.get("preview"):
        actor = context.actor(app_key)
        try:
            settings = _choice(request.args).settings()
            result = service.preview_widget(app_key, dashboard_key, document.path, settings, actor)
            labeller = Labeller(app, context.records(app_key), actor)
            preview = widget_json(app_key, app, labeller, result)
        except DefinitionErrors as exc:
            errors = exc.errors
        except (DocumentError, KeyError, ValueError) as exc:
            problem = str(exc)
    widgets = [item for item in document.data.get("widgets", []) if isinstance(item, dict)]
    placements, pending = _shown_arrangement(widgets)
    return render_template(
        "designer/dashboard.html",
        admin_tab="designer",
        app_key=app_key,
        dashboard_key=dashboard_key,
        widgets=widgets,
        cards=_cards(widgets, placements),
        pending=pending,
        since=request.args.get("since", document.stored.revision, type=int),
        forms=list(app.forms.values()),
        kinds=KINDS,
        operations=OPERATIONS,
        args=request.args,
        preview=preview,
        errors=errors,
        problem=problem,
        can_undo=service.can_undo(app_key),
        **document.page_values(),
    )


@blueprint.post("/<app_key>/dashboards/<dashboard_key>/save")
def dashboard_save(app_key: str, dashboard_key: str) -> Response:
    """Save the previewed widget into the draft's dashboard."""
    service, _unused_draft, path = _located(app_key, "dashboards", dashboard_key)
    revision = request.form.get("revision", type=int) or 0
    try:
        settings = _choice(request.form).settings()
        service.save_widget(app_key, path, settings, revision, context.user().id)
    except (DraftConflict, DocumentError) as refusal:
        flash_refusal(refusal)
    else:
        flash(_("The widget is saved in the draft."), "success")
        return redirect(url_for(".dashboard", app_key=app_key, dashboard_key=dashboard_key))
    kept: dict[str, Any] = {
        name: value
        for name, value in request.form.items()
        if name in (*CHOICES, "dimension", "filters", "width")
    }
    return redirect(
        url_for(".dashboard", app_key=app_key, dashboard_key=dashboard_key, preview=1, **kept)
    )


@blueprint.post("/<app_key>/dashboards/<dashboard_key>/arrange")
def dashboard_arrange(app_key: str, dashboard_key: str) -> Response:
    """The grid's form: Save writes the arrangement into the draft as one step; an arrow
    button (without JavaScript) moves a card and shows the result, nothing saved."""
    service, _unused_draft, path = _located(app_key, "dashboards", dashboard_key)
    page = url_for(".dashboard", app_key=app_key, dashboard_key=dashboard_key)
    revision = request.form.get("revision", type=int) or 0
    try:
        placements = _posted_arrangement()
        if "move" in request.form:
            moved = _moved(placements, request.form["move"])
            return redirect(
                url_for(
                    ".dashboard",
                    app_key=app_key,
                    dashboard_key=dashboard_key,
                    arrangement=_encoded(moved),
                    since=revision,
                    _anchor="grid-heading",
                )
            )
        saved = service.arrange_widgets(app_key, path, placements, revision, context.user().id)
    except ArrangementRefused as exc:
        flash(_("The arrangement was not saved: %(problems)s", problems=str(exc)), "error")
    except (DraftConflict, DocumentError) as refusal:
        flash_refusal(refusal)
    else:
        if saved is None:
            flash(_("The arrangement is the saved one: nothing to save."))
        else:
            flash(_("The arrangement is saved in the draft."), "success")
    return redirect(page)


def _posted_arrangement() -> tuple[Placement, ...]:
    """The grid's cards as posted: ``key`` and ``width`` once per card, in the grid's
    order, and ``remove`` for each card taken out."""
    keys, widths = request.form.getlist("key"), request.form.getlist("width")
    if len(keys) != len(widths):
        raise ArrangementRefused(["every widget needs one width"])
    removed = set(request.form.getlist("remove"))
    return tuple(
        Placement(key, _number(key, width), key in removed)
        for key, width in zip(keys, widths, strict=True)
    )


def _number(key: str, width: str) -> int:
    found = _width(width)
    if found is None:
        raise ArrangementRefused([f"widget '{key}': '{width[:20]}' is not a width"])
    return found


def _width(text: str) -> int | None:
    """A width as posted: one or two ASCII digits (``"²".isdigit()`` is true too)."""
    digits = text.strip()
    return int(digits) if digits.isascii() and digits.isdigit() and len(digits) <= 2 else None


def _moved(placements: Sequence[Placement], move: str) -> list[Placement]:
    """The arrangement with one card moved a place (``up:KEY`` or ``down:KEY``)."""
    direction, _sep, key = move.partition(":")
    keys = [placement.key for placement in placements]
    if direction not in ("up", "down") or key not in keys:
        raise ArrangementRefused([f"there is no widget '{key[:40]}' to move"])
    moved = list(placements)
    position = keys.index(key)
    target = max(0, min(len(moved) - 1, position + (-1 if direction == "up" else 1)))
    moved.insert(target, moved.pop(position))
    return moved


def _encoded(placements: Sequence[Placement]) -> str:
    """An arrangement for the address: ``key:width`` (``:removed`` added), comma-joined."""
    return ",".join(f"{p.key}:{p.width}" + (":removed" if p.removed else "") for p in placements)


def _decoded(text: str) -> tuple[Placement, ...] | None:
    placements: list[Placement] = []
    for part in text.split(","):
        key, _sep, rest = part.partition(":")
        width_text, _sep, flag = rest.partition(":")
        width = _width(width_text)
        if width is None or flag not in ("", "removed"):
            return None
        placements.append(Placement(key, width, flag == "removed"))
    return tuple(placements)


def _shown_arrangement(
    widgets: Sequence[Mapping[str, Any]],
) -> tuple[tuple[Placement, ...], bool]:
    """The arrangement the grid shows: an unsaved one from the address when it fits the
    dashboard's widgets, else the saved one; and whether it is the unsaved one."""
    saved = tuple(Placement(str(w.get("key")), width_of(w)) for w in widgets)
    asked = _decoded(request.args.get("arrangement", "")) if "arrangement" in request.args else None
    if asked is None or problems_of(asked, [p.key for p in saved]):
        return saved, False
    return asked, asked != saved


def _cards(
    widgets: Sequence[Mapping[str, Any]], placements: Sequence[Placement]
) -> list[dict[str, Any]]:
    """What each card of the grid shows: the widget, its place, and the composer's fields
    to edit it (``None`` when only the YAML tab can)."""
    by_key = {str(widget.get("key")): widget for widget in widgets}
    return [
        {
            "widget": by_key[placement.key],
            "placement": placement,
            "edit": composer_values(by_key[placement.key]),
        }
        for placement in placements
    ]
