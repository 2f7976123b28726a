"""The pages of a form's record actions: the buttons' own page, one record or a selection.

A button whose action asks nothing posts straight here; one with inputs opens a page that
asks them first. Either way :class:`~formflow.record_actions.service.FormActions` checks
and runs it, so the page offers what the service would allow and the service still
decides: a refusal (a limit reached, a record someone else just claimed) comes back as a
message on the record's or the list's page, and inputs that do not fit are asked again
with their problems.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import login_required

from formflow.definitions.model import Form
from formflow.errors import RecordError, ValidationFailed
from formflow.record_actions.model import FormAction
from formflow.record_actions.service import MAX_BATCH, FormActions
from formflow.records import Record
from formflow.web import context
from formflow.web.formbuilder import Pickers, RecordForm, form_class, place_problems, submitted
from formflow.web.i18n import error_message, text
from formflow.web.ids import parse_id
from formflow.web.local_addresses import local_address
from formflow.web.targets import Target, load_names, target

blueprint = Blueprint("record_actions", __name__)


def actions_of(t: Target) -> FormActions:
    return context.instance().record_actions(t.app_key)


def offered(t: Target, record: Record) -> list[FormAction]:
    """The record page's form-action buttons for the signed-in user."""
    if not t.form.actions:
        return []
    return actions_of(t).offered(t.actor, t.form.key, record)


def offered_in_bulk(t: Target) -> list[FormAction]:
    """The actions a list offers for its selected records."""
    if not t.form.actions:
        return []
    return actions_of(t).offered_in_bulk(t.actor, t.form.key)


@blueprint.route("/<app_key>/<form_key>/<int:record_id>/do/<action_key>", methods=["GET", "POST"])
@login_required  # type: ignore[untyped-decorator]
def on_record(app_key: str, form_key: str, record_id: int, action_key: str) -> ResponseReturnValue:
    """Run an action on one record (asking its inputs first when it has any)."""
    t = target(app_key, form_key)
    t.service.get(t.actor, t.form.key, record_id)  # not found unless the caller may read it
    back = url_for("records.detail", app_key=app_key, form_key=form_key, record_id=record_id)
    return _act(t, _action(t, action_key), [record_id], back)


@blueprint.route("/<app_key>/<form_key>/do/<action_key>", methods=["POST"])
@login_required  # type: ignore[untyped-decorator]
def on_selection(app_key: str, form_key: str, action_key: str) -> ResponseReturnValue:
    """Run an action on the records selected in a list."""
    t = target(app_key, form_key)
    ids = [found for found in map(parse_id, request.form.getlist("ids")) if found is not None]
    back = local_address(request.form.get("_next")) or t.list_address
    if not ids:
        flash(_("Nothing was done: choose the records first."))
        return redirect(back)
    return _act(t, _action(t, action_key), ids[:MAX_BATCH], back)


def _act(t: Target, action: FormAction, ids: Sequence[int], back: str) -> ResponseReturnValue:
    asked = request.method == "POST" and request.form.get("_asked") == "1"
    if action.inputs and not asked:
        return _ask(t, action, ids, back, None, {}, [])
    inputs_form = _inputs_form(t.form, action)
    bound = _bound(inputs_form, action) if action.inputs else None
    inputs = submitted(inputs_form, bound).values if bound is not None else {}
    try:
        done = actions_of(t).run(t.actor, t.form.key, ids, action.key, inputs)
    except ValidationFailed as failed:
        if not action.inputs or not set(failed.problems) <= {i.key for i in action.inputs}:
            flash(_("Nothing was done: %(reason)s", reason=error_message(failed, t.form)))
            return redirect(back)
        placed, general = place_problems(failed.problems, None, inputs_form)
        return _ask(t, action, ids, back, bound, placed, general), 422
    except RecordError as error:
        flash(_("Nothing was done: %(reason)s", reason=error_message(error)))
        return redirect(back)
    count = len(done.record_ids)
    flash(_("Done: %(action)s (%(count)s records).", action=text(action.label), count=count))
    return redirect(back)


def _ask(
    t: Target,
    action: FormAction,
    ids: Sequence[int],
    back: str,
    bound: RecordForm | None,
    errors: dict[str, list[str]],
    general: list[str],
) -> str:
    inputs_form = _inputs_form(t.form, action)
    shown = bound if bound is not None else _bound(inputs_form, action, fresh=True)
    titles = t.service.titles(t.actor, t.form.key, ids)
    names = [str(titles[i].get(t.form.title_field) or f"#{i}") for i in ids if i in titles]
    fields = [
        (text(item.label), shown.field_for(item.key), errors.get(item.key, []), item.required)
        for item in action.inputs
    ]
    if len(ids) == 1:
        address = url_for(
            "record_actions.on_record",
            app_key=t.app_key,
            form_key=t.form.key,
            record_id=ids[0],
            action_key=action.key,
        )
    else:
        address = url_for(
            "record_actions.on_selection",
            app_key=t.app_key,
            form_key=t.form.key,
            action_key=action.key,
        )
    return render_template(
        "records/action.html",
        t=t,
        form=t.form,
        action=action,
        ids=ids,
        names=names,
        fields=fields,
        general=general,
        address=address,
        back=back,
    )


def _action(t: Target, key: str) -> FormAction:
    found = t.form.action(key)
    if found is None:
        abort(404)
    return found


def _inputs_form(form: Form, action: FormAction) -> Form:
    return replace(form, fields=action.inputs, actions=(), pool=None, readonly_if=None)


def _bound(inputs_form: Form, action: FormAction, *, fresh: bool = False) -> RecordForm:
    people = load_names(users=True, departments=True)
    pickers = Pickers(tuple(people.user_choices()), tuple(people.department_choices()))
    cls = form_class(inputs_form, pickers)
    if fresh:
        return cls(meta={"csrf": False})
    return cls(formdata=request.form, meta={"csrf": False})


def init_app(app: Flask) -> None:
    app.register_blueprint(blueprint)
