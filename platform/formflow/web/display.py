"""Stored values as people read them, type by type.

:class:`Displayer` turns a field's value into a :class:`Shown`: plain text plus, where the
type calls for it, a link (a linked record, ``tel:``, ``mailto:``, a web address, a file),
a list (multiselect, files) or rows (a subtable). Templates render a ``Shown`` with
autoescaping; nothing here builds HTML, so no value can ever inject markup.

Values may come from a record (``Decimal``, ``date``…) or from the audit trail, which
keeps them as JSON (decimals and dates as text); both display the same.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any, NamedTuple

import phonenumbers
from babel import Locale
from babel.numbers import format_currency, get_currency_precision, get_currency_symbol
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from formflow.accounts.directory import Directory
from formflow.definitions.model import SYSTEM_FIELDS, App, Field, Form
from formflow.fields import ValueKind, stored_date
from formflow.web.i18n import text

SHORT = 80
"""Characters of a value shown in a list cell or as a record's title."""

RecordUrl = Callable[[str, int], str]
FileUrl = Callable[[str], str]


class Shown(NamedTuple):
    """A value ready to show. ``kind`` is one of ``empty``, ``text``, ``multiline``,
    ``list`` (``items``), ``rows`` (``header`` and ``rows``).

    A named tuple: a list page makes one per cell, and a tuple is made several times
    faster than a frozen dataclass.
    """

    text: str = ""
    href: str | None = None
    kind: str = "text"
    items: tuple[Shown, ...] = ()
    header: tuple[str, ...] = ()
    rows: tuple[tuple[Shown, ...], ...] = ()
    color: str | None = None

    @property
    def empty(self) -> bool:
        return self.kind == "empty"

    @property
    def plain(self) -> bool:
        """Just text: a template may print it as is (cheaper than the ``value`` macro)."""
        return self.kind == "text" and self.href is None and self.color is None

    def short(self, limit: int = SHORT) -> Shown:
        """The value cut to ``limit`` characters on one line, for a list cell or a title."""
        if self.kind not in ("text", "multiline"):
            return self
        flat = " ".join(self.text.split())
        cut = flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"
        if cut == self.text and self.kind == "text":
            return self
        return self._replace(text=cut, kind="text")


EMPTY = Shown(kind="empty")


SYSTEM_LABELS = {
    "id": _l("ID"),
    "created_at": _l("Created"),
    "updated_at": _l("Last changed"),
    "created_by": _l("Created by"),
    "updated_by": _l("Changed by"),
    "version": _l("Version"),
}


def column_label(form: Form, key: str) -> str:
    """A field's label in the user's language, or a system field's name."""
    if form.has_field(key):
        return text(form.field(key).label)
    label = SYSTEM_LABELS.get(key)
    return str(label) if label is not None else key


def list_columns(form: Form) -> list[str]:
    """The list's columns: as defined, else the first six fields that fit in a cell."""
    if form.list_view.columns:
        return list(form.list_view.columns)
    return cell_columns(form)[:6]


def cell_columns(form: Form) -> list[str]:
    """Every column a list may show: the form's fields that fit in a cell (not subtables
    or files), then when and by whom records were made and changed."""
    fit = [f.key for f in form.fields if f.kind not in (ValueKind.ROWS, ValueKind.FILES)]
    extra = [*form.list_view.columns, *_TRACKING]
    return [*fit, *dict.fromkeys(key for key in extra if key not in fit)]


_TRACKING = ("created_at", "created_by", "updated_at", "updated_by")


def file_size(size: Any) -> str:
    try:
        count = int(size)
    except (TypeError, ValueError):
        return ""
    if count < 1024:
        return f"{count} B"
    if count < 1024 * 1024:
        return f"{count / 1024:.0f} KB"
    return f"{count / 1024 / 1024:.1f} MB"


class Unlinked(str):
    """The title of a linked record the reader may see named but not open."""

    __slots__ = ()


class Displayer:
    """Shows values of one app's forms, with names and titles looked up beforehand."""

    def __init__(
        self,
        app: App,
        *,
        directory: Directory | None = None,
        titles: Mapping[tuple[str, int], str] | None = None,
        timezone: tzinfo = UTC,
        record_url: RecordUrl | None = None,
        file_url: FileUrl | None = None,
    ) -> None:
        self.app = app
        self.directory = directory or Directory()
        self.titles = titles or {}
        self.timezone = timezone
        self.record_url = record_url
        self.file_url = file_url
        self._locale = get_locale()

    def cell(self, form: Form, key: str, record: Mapping[str, Any]) -> Shown:
        """The value of ``key`` (a field or system field) in ``record``."""
        if form.has_field(key):
            return self.show(form.field(key), record.get(key))
        return self.system(key, record.get(key))

    def system(self, key: str, value: Any) -> Shown:
        if value is None:
            return EMPTY
        kind = SYSTEM_FIELDS.get(key)
        if kind is ValueKind.DATETIME:
            return Shown(self._datetime(value))
        if kind is ValueKind.REFERENCE:
            return self._user(value)
        return Shown(str(value))

    def title(self, form: Form, record: Mapping[str, Any]) -> str:
        """What names a record: its title field as shown, else ``#id``."""
        shown = self.show(form.field(form.title_field), record.get(form.title_field)).short()
        return shown.text if shown.text else f"#{record.get('id')}"

    def show(self, field: Field, value: Any) -> Shown:
        if value is None or value == "" or value == []:
            return EMPTY
        try:
            return self._by_type(field, value)
        except (TypeError, ValueError, InvalidOperation, KeyError):
            return Shown(str(value))

    # types ----------------------------------------------------------------------

    def _by_type(self, field: Field, value: Any) -> Shown:
        return _HANDLERS[field.field_type.display_style(field)](self, field, value)

    def _text(self, field: Field, value: Any) -> Shown:
        return Shown(str(value))

    def _multiline(self, field: Field, value: Any) -> Shown:
        return Shown(str(value), kind="multiline")

    def _phone(self, field: Field, value: Any) -> Shown:
        """Stored as E.164; shown as people of the field's region write it (021 5555 0101)."""
        try:
            number = phonenumbers.parse(str(value), field.region or "CN")
        except phonenumbers.NumberParseException:
            return Shown(str(value), href=f"tel:{value}")
        local = phonenumbers.region_code_for_number(number) == (field.region or "CN")
        style = (
            phonenumbers.PhoneNumberFormat.NATIONAL
            if local
            else phonenumbers.PhoneNumberFormat.INTERNATIONAL
        )
        return Shown(phonenumbers.format_number(number, style), href=f"tel:{value}")

    def _email(self, field: Field, value: Any) -> Shown:
        return Shown(str(value), href=f"mailto:{value}")

    def _url(self, field: Field, value: Any) -> Shown:
        address = str(value)
        safe = address.lower().startswith(("http://", "https://"))
        return Shown(address, href=address if safe else None)

    def _decimal(self, field: Field, value: Any) -> Shown:
        return Shown(_number(value, field.scale, field.grouping))

    def _money(self, field: Field, value: Any) -> Shown:
        return Shown(money(Decimal(str(value)), field.currency or "CNY", self._locale))

    def _percent(self, field: Field, value: Any) -> Shown:
        return Shown(f"{_number(value, field.scale)}%")

    def _date(self, field: Field, value: Any) -> Shown:
        return Shown(stored_date(value).isoformat())

    def _datetime_field(self, field: Field, value: Any) -> Shown:
        return Shown(self._datetime(value))

    def _bool(self, field: Field, value: Any) -> Shown:
        return _yes_no(bool(value))

    def _select(self, field: Field, value: Any) -> Shown:
        for option in field.options:
            if option.value == value:
                return Shown(text(option.label), color=option.color)
        return Shown(str(value))

    def _multiselect(self, field: Field, value: Any) -> Shown:
        values = value if isinstance(value, list) else [value]
        return Shown(kind="list", items=tuple(self._select(field, v) for v in values))

    def _user_field(self, field: Field, value: Any) -> Shown:
        return self._user(value)

    def _department(self, field: Field, value: Any) -> Shown:
        name = self.directory.departments.get(int(value))
        return Shown(name if name is not None else f"#{value}")

    def _link(self, field: Field, value: Any) -> Shown:
        record_id = int(value)
        target = field.target_form or ""
        title = self.titles.get((target, record_id))
        if title is None:
            return Shown(f"#{record_id}")
        linked = self.record_url is not None and not isinstance(title, Unlinked)
        href = self.record_url(target, record_id) if self.record_url and linked else None
        return Shown(title, href=href)

    def _rows(self, field: Field, value: Any) -> Shown:
        if not isinstance(value, list):
            return Shown(str(value))
        header = tuple(text(sub.label) for sub in field.fields)
        rows = tuple(
            tuple(self.show(sub, row.get(sub.key)) for sub in field.fields)
            for row in value
            if isinstance(row, Mapping)
        )
        return Shown(
            kind="rows", header=header, rows=rows, text=_("%(count)d rows", count=len(rows))
        )

    def _files(self, field: Field, value: Any) -> Shown:
        files = value if isinstance(value, list) else [value]
        items = []
        for item in files:
            if not isinstance(item, Mapping):
                continue
            label = str(item.get("name") or item.get("id"))
            size = file_size(item.get("size"))
            href = self.file_url(str(item.get("id"))) if self.file_url else None
            items.append(Shown(f"{label} ({size})" if size else label, href=href))
        return Shown(kind="list", items=tuple(items)) if items else EMPTY

    # helpers ------------------------------------------------------------------------

    def _user(self, value: Any) -> Shown:
        name = self.directory.users.get(int(value))
        return Shown(name if name is not None else f"#{value}")

    def _datetime(self, value: Any) -> str:
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        local = moment.astimezone(self.timezone)
        return f"{local.year:04d}-{local.month:02d}-{local.day:02d} {local.hour:02d}:{local.minute:02d}"


def money(amount: Decimal, currency: str, locale: Locale | None) -> str:
    """``amount`` as the locale writes money (Babel's rules, e.g. ¥1,234.50 or CN¥1,234.50).

    A list shows a column of amounts; for the usual pattern (symbol, then digits grouped
    by three) the symbol and precision are looked up once and Python formats the digits,
    several times faster than Babel doing it all for each amount.
    """
    shape = _money_shape(currency, str(locale) if locale is not None else None)
    if shape is None:
        return str(format_currency(amount, currency, locale=locale))
    symbol, digits = shape
    text = f"{abs(amount):,.{digits}f}"
    return f"-{symbol}{text}" if amount < 0 else f"{symbol}{text}"


@lru_cache(maxsize=64)
def _money_shape(currency: str, locale: str | None) -> tuple[str, int] | None:
    """The symbol and digits for ``currency`` when ``locale`` writes ``¤#,##0.00``."""
    if locale is None:
        return None
    parsed = Locale.parse(locale)
    pattern = parsed.currency_formats["standard"]
    if pattern.pattern != "¤#,##0.00" or parsed.number_symbols["latn"]["group"] != ",":
        return None
    return get_currency_symbol(currency, parsed), get_currency_precision(currency)


def _number(value: Any, scale: int, grouping: bool = True) -> str:
    """``value`` with ``scale`` decimals; thousands separated unless the field says not
    (a year reads 2026, not 2,026)."""
    number = Decimal(str(value))
    return f"{number:{',' if grouping else ''}.{max(scale, 0)}f}"


def _yes_no(value: bool) -> Shown:
    return Shown(_("Yes") if value else _("No"))


_HANDLERS: Mapping[str, Callable[[Displayer, Field, Any], Shown]] = {
    "text": Displayer._text,
    "multiline": Displayer._multiline,
    "phone": Displayer._phone,
    "email": Displayer._email,
    "url": Displayer._url,
    "number": Displayer._decimal,
    "money": Displayer._money,
    "percent": Displayer._percent,
    "date": Displayer._date,
    "datetime": Displayer._datetime_field,
    "yes_no": Displayer._bool,
    "option": Displayer._select,
    "options": Displayer._multiselect,
    "user": Displayer._user_field,
    "department": Displayer._department,
    "record": Displayer._link,
    "rows": Displayer._rows,
    "files": Displayer._files,
}
"""How each display style a field type names (:meth:`FieldType.display_style`) is shown."""
