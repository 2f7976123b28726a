"""WTForms form classes built from a form definition, one fitting widget per field type.

The generated form only collects and renders: every field is taken as the text a person
typed (or a bool, or a list of options) and handed to the record service, which converts
and checks it (:mod:`formflow.records.values`). So there is one set of rules, the
service's, and its problems are placed back next to the fields they concern.

Field keys become HTML names as they are (``name``, ``items-0-qty`` in a subtable); the
Python attributes carry a prefix so that no key can shadow a WTForms attribute (a field
called ``data`` or ``meta``). Readonly and computed fields have no input: pages show them.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    FieldList,
    FormField,
    HiddenField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms import Form as PlainForm
from wtforms.fields.core import UnboundField
from wtforms.widgets import (
    CheckboxInput,
    DateInput,
    DateTimeLocalInput,
    EmailInput,
    HiddenInput,
    ListWidget,
    TelInput,
    URLInput,
)

try:  # WTForms 3.3 wants choices as SelectChoice; earlier versions take (value, label)
    from wtforms.fields.choices import SelectChoice
except ImportError:  # pragma: no cover - WTForms < 3.3
    SelectChoice = None

from formflow.definitions.model import Field, Form
from formflow.errors import Problem
from formflow.fields import Reference, ValueKind, is_empty
from formflow.records import MAX_ROWS
from formflow.web.i18n import problem_message, text

ATTRIBUTE_PREFIX = "f_"
LABEL_SUFFIX = "__label"
"""A link field's visible search box is named ``<name>__label``; without JavaScript its
text is looked up when the form is sent."""


def attribute(key: str) -> str:
    return ATTRIBUTE_PREFIX + key


def editable(field: Field) -> bool:
    """Whether people fill this field in (not readonly, not worked out by the engine, not
    filled from a linked record)."""
    return not field.readonly and not field.is_computed and field.filled_from is None


@dataclass(frozen=True)
class Pickers:
    """The choices of user and department dropdowns: ``(id, name)`` pairs."""

    users: tuple[tuple[int, str], ...] = ()
    departments: tuple[tuple[int, str], ...] = ()
    blank: bool = True
    """Whether "—" (nobody) is among the choices."""


class RecordForm(FlaskForm):  # type: ignore[misc]
    """A record's form; ``version`` is the version an edit started from."""

    version = HiddenField()

    def field_for(self, key: str) -> Any:
        """The bound input of a field, or ``None`` for one that is not edited."""
        return self._fields.get(attribute(key))


def form_class(
    form: Form,
    pickers: Pickers,
    fixed: frozenset[str] = frozenset(),
    *,
    owner: int | None = None,
) -> type[RecordForm]:
    """A :class:`RecordForm` subclass with an input for every editable field of ``form``
    but the ``fixed`` ones, which the person may not change (see the service's field access).

    ``owner`` is the person creating a record who may not hand records to others: the
    owner field offers only them, as the record service would refuse anyone else."""
    inputs = {
        attribute(field.key): make_input(
            field,
            _only(pickers, owner)
            if owner is not None and field.key == form.owner_field
            else pickers,
            top_level=True,
        )
        for field in form.fields
        if editable(field) and field.kind is not ValueKind.FILES and field.key not in fixed
    }
    return type(f"{form.key.title()}Form", (RecordForm,), inputs)


def _only(pickers: Pickers, user_id: int) -> Pickers:
    users = tuple(person for person in pickers.users if person[0] == user_id)
    return Pickers(users, pickers.departments, blank=False)


def row_form_class(field: Field, pickers: Pickers) -> type[PlainForm]:
    """The form of one subtable row (no CSRF of its own: the record's form has it)."""
    inputs = {
        attribute(sub.key): make_input(sub, pickers, top_level=False)
        for sub in field.fields
        if editable(sub) and sub.kind is not ValueKind.FILES
    }
    return type(f"{field.key.title()}Row", (PlainForm,), inputs)


def make_input(field: Field, pickers: Pickers, *, top_level: bool) -> UnboundField:
    options: dict[str, Any] = {"name": field.key, "label": text(field.label)}
    if top_level:
        options["id"] = f"field-{field.key}"
    maker = _MAKERS.get(field.field_type.input_widget(field))
    if maker is not None:
        return maker(field, pickers, options)
    return StringField(**options)


def _text(field: Field, pickers: Pickers, options: dict[str, Any]) -> UnboundField:
    attrs: dict[str, Any] = {}
    if field.max_length:
        attrs["maxlength"] = field.max_length
    kind = field.field_type.input_widget(field)
    widget = {"tel": TelInput(), "email": EmailInput(), "url": URLInput()}.get(kind)
    attrs.update(
        {
            "tel": {"inputmode": "tel", "autocomplete": "tel"},
            "email": {"inputmode": "email", "autocomplete": "email"},
            "url": {"inputmode": "url"},
        }.get(kind, {})
    )
    if widget is not None:
        options["widget"] = widget
    return StringField(render_kw=attrs, **options)


def _textarea(field: Field, pickers: Pickers, options: dict[str, Any]) -> UnboundField:
    attrs: dict[str, Any] = {"rows": 4}
    if field.max_length:
        attrs["maxlength"] = field.max_length
    return TextAreaField(render_kw=attrs, **options)


def _number(field: Field, pickers: Pickers, options: dict[str, Any]) -> UnboundField:
    return StringField(render_kw={"inputmode": "decimal", "autocomplete": "off"}, **options)


def _date(field: Field, pickers: Pickers, options: dict[str, Any]) -> UnboundField:
    attrs = {
        name: value for name, value in (("min", field.minimum), ("max", field.maximum)) if value
    }
    return StringField(widget=DateInput(), render_kw=attrs, **options)


def _datetime(field: Field, pickers: Pickers, options: dict[str, Any]) -> UnboundField:
    return StringField(widget=DateTimeLocalInput(), **options)


def _bool(field: Field, pickers: Pickers, options: dict[str, Any]) -> UnboundField:
    return BooleanField(**options)


def choice(value: str, label: str) -> Any:
    return SelectChoice(value, label) if SelectChoice is not None else (value, label)


def _select(field: Field, pickers: Pickers, options: dict[str, Any]) -> UnboundField:
    choices = [choice(option.value, text(option.label)) for option in field.options]
    if field.style == "radio":
        return RadioField(choices=choices, validate_choice=False, **options)
    return SelectField(choices=[choice("", "—"), *choices], validate_choice=False, **options)


def _multiselect(field: Field, pickers: Pickers, options: dict[str, Any]) -> UnboundField:
    return SelectMultipleField(
        choices=[choice(option.value, text(option.label)) for option in field.options],
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        validate_choice=False,
        **options,
    )


def _people(field: Field, pickers: Pickers, options: dict[str, Any]) -> UnboundField:
    found = pickers.users if field.field_type.reference is Reference.USER else pickers.departments
    blank = [choice("", "—")] if pickers.blank else []
    choices = [*blank, *(choice(str(key), name) for key, name in found)]
    return SelectField(choices=choices, validate_choice=False, **options)


def _link(field: Field, pickers: Pickers, options: dict[str, Any]) -> UnboundField:
    return StringField(widget=HiddenInput(), **options)


def _subtable(field: Field, pickers: Pickers, options: dict[str, Any]) -> UnboundField:
    options.pop("label", None)
    return FieldList(
        FormField(row_form_class(field, pickers)),
        min_entries=0,
        max_entries=min(field.max_rows or MAX_ROWS, MAX_ROWS),
        **options,
    )


_MAKERS: Mapping[str, Callable[[Field, Pickers, dict[str, Any]], UnboundField]] = {
    "text": _text,
    "tel": _text,
    "email": _text,
    "url": _text,
    "textarea": _textarea,
    "number": _number,
    "date": _date,
    "datetime": _datetime,
    "checkbox": _bool,
    "select": _select,
    "radio": _select,
    "multiselect": _multiselect,
    "user": _people,
    "department": _people,
    "link": _link,
    "rows": _subtable,
}
"""The inputs by the widget a field's type asks for (:meth:`FieldType.input_widget`)."""


# stored values -> inputs ----------------------------------------------------------


def input_data(
    form: Form, values: Mapping[str, Any], timezone: tzinfo, fixed: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """What the inputs start with for ``values`` (a record, or a new record's defaults)."""
    return {
        attribute(field.key): input_value(field, values.get(field.key), timezone)
        for field in form.fields
        if editable(field) and field.kind is not ValueKind.FILES and field.key not in fixed
    }


def input_value(field: Field, value: Any, timezone: tzinfo) -> Any:
    """One stored value as its input holds it."""
    if field.kind is ValueKind.ROWS:
        rows = value if isinstance(value, list) else []
        return [
            {
                attribute(sub.key): input_value(sub, row.get(sub.key), timezone)
                for sub in field.fields
                if editable(sub)
            }
            for row in rows
            if isinstance(row, Mapping)
        ]
    if field.kind is ValueKind.BOOL:
        return bool(value)
    if field.kind is ValueKind.CHOICES:
        return list(value) if isinstance(value, list | tuple) else []
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.astimezone(timezone).strftime("%Y-%m-%dT%H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


# inputs -> submitted values ----------------------------------------------------------


@dataclass
class Submission:
    """What a sent form holds, as the record service takes it.

    ``row_entries[key][i]`` is the input row (on the page) of the ``i``-th row sent for the
    subtable ``key``: rows left blank are not sent, so the service's row numbers and the
    page's can differ, and problems must be placed on the page's.
    """

    values: dict[str, Any]
    row_entries: dict[str, list[int]]
    row_numbers: dict[str, list[int]] = dataclasses.field(default_factory=dict)
    """``row_numbers[key][i]``, when set (see :func:`sent_row_numbers`): the number in the
    sent input names (``items-7-qty``) of the ``i``-th row sent."""


def submitted(form: Form, record_form: RecordForm) -> Submission:
    values: dict[str, Any] = {}
    row_entries: dict[str, list[int]] = {}
    for field in form.fields:
        bound = record_form.field_for(field.key)
        if bound is None:
            continue
        if field.kind is ValueKind.ROWS:
            values[field.key], row_entries[field.key] = _rows(field, bound)
        elif _sent(field, bound):
            values[field.key] = _value(field, bound.data)
    return Submission(values, row_entries)


def sent_row_numbers(
    form: Form, record_form: RecordForm, submission: Submission, formdata: Mapping[str, Any]
) -> dict[str, list[int]]:
    """The number in the sent input names of each row sent, by subtable: WTForms numbers
    its rows from 0 again, but a page's script knows its rows by the names it gave them."""
    found: dict[str, list[int]] = {}
    for field in form.fields:
        bound = record_form.field_for(field.key)
        if bound is None or field.kind is not ValueKind.ROWS:
            continue
        pattern = re.compile(rf"{re.escape(bound.name)}-(\d+)-")
        sent = sorted({int(m.group(1)) for name in formdata if (m := pattern.match(name))})
        found[field.key] = [
            sent[index] for index in submission.row_entries.get(field.key, []) if index < len(sent)
        ]
    return found


def _sent(field: Field, bound: Any) -> bool:
    """Whether the form data has this input. A check box or a set of them is absent when
    nothing is ticked, which is an answer; any other input absent from sent data (a
    client posting only some fields) leaves the field to its default or current value."""
    if field.kind in (ValueKind.BOOL, ValueKind.CHOICES):
        return True
    return bound.raw_data is None or bool(bound.raw_data)


def _value(field: Field, data: Any) -> Any:
    if field.kind is ValueKind.BOOL:
        return bool(data)
    if field.kind is ValueKind.CHOICES:
        return [str(item) for item in data or []]
    return data if isinstance(data, str) else ""


def _rows(field: Field, bound: Any) -> tuple[list[dict[str, Any]], list[int]]:
    rows: list[dict[str, Any]] = []
    entries: list[int] = []
    for index, entry in enumerate(bound.entries):
        row = {
            sub.key: _value(sub, entry.form[attribute(sub.key)].data)
            for sub in field.fields
            if attribute(sub.key) in entry.form._fields
        }
        if all(is_empty(v) or v is False for v in row.values()):
            continue
        rows.append(row)
        entries.append(index)
    return rows, entries


# problems -> messages next to fields ------------------------------------------------


def place_problems(
    problems: Mapping[str, list[Problem]], submission: Submission | None, form: Form | None = None
) -> tuple[dict[str, list[str]], list[str]]:
    """Problems keyed by where the page shows them (``items.3.qty`` with the page's row
    number), and those that belong to no field."""
    placed: dict[str, list[str]] = {}
    general: list[str] = []
    for path, found in problems.items():
        messages = [problem_text(problem, form) for problem in found]
        where = _page_path(path, submission)
        if where:
            placed.setdefault(where, []).extend(messages)
        else:
            general.extend(messages)
    return placed, general


def _page_path(path: str, submission: Submission | None) -> str:
    key, _sep, rest = path.partition(".")
    if not rest:
        return path
    number, _sep, sub = rest.partition(".")
    entries = submission.row_entries.get(key, []) if submission else []
    if number.isascii() and number.isdigit() and int(number) < len(entries):
        return f"{key}.{entries[int(number)]}.{sub}"
    return key


def problem_text(problem: Problem, form: Form | None = None) -> str:
    """A problem in the user's language (the service's English text for rare ones);
    ``form`` names the fields a repeated combination is made of."""
    params = dict(problem.params)
    if problem.code == "unique" and "fields" in params:
        combination: str = _(
            "Another record already has this combination of %(fields)s.",
            fields=", ".join(_field_name(form, key) for key in params["fields"]),
        )
        return combination
    limit = params.get("limit")
    messages: Mapping[str, Callable[[], str]] = {
        "required": lambda: _("This field is required."),
        "choice": lambda: _("Choose one of the options."),
        "max_length": lambda: _("Use at most %(limit)s characters.", limit=limit),
        "min_length": lambda: _("Use at least %(limit)s characters.", limit=limit),
        "pattern": lambda: _("This is not in the expected format."),
        "format": lambda: _("This code is not valid: check its characters and check digit."),
        "min": lambda: _("Must be at least %(limit)s.", limit=limit),
        "max": lambda: _("Must be at most %(limit)s.", limit=limit),
        "scale": lambda: _("Use at most %(scale)s decimal places.", scale=params.get("scale")),
        "phone": lambda: _("This is not a valid phone number."),
        "email": lambda: _("This is not an e-mail address."),
        "url": lambda: _("This is not a web address (http:// or https://)."),
        "min_items": lambda: _("Choose at least %(limit)s.", limit=limit),
        "max_items": lambda: _("Choose at most %(limit)s.", limit=limit),
        "min_rows": lambda: _("Add at least %(limit)s rows.", limit=limit),
        "max_rows": lambda: _("Use at most %(limit)s rows.", limit=limit),
        "unique": lambda: _("Another record already has this value."),
        "not_found": lambda: _("Choose a record you can see from the list."),
        "link_filter": lambda: _("Choose one of the records the list offers for this record."),
        "formula_failed": lambda: _(
            "This formula could not be worked out: %(reason)s", reason=params.get("reason")
        ),
        "default_failed": lambda: _(
            "The starting value could not be worked out: %(reason)s", reason=params.get("reason")
        ),
        "expression_limit": lambda: _(
            "This field cannot be worked out with these values; change them or ask the"
            " administrator."
        ),
    }
    message = messages.get(problem.code)
    return message() if message else problem_message(problem)


def _field_name(form: Form | None, key: str) -> str:
    if form is not None and form.has_field(key):
        return text(form.field(key).label)
    return key
