"""The compiled app model: what a valid definition folder means, as immutable objects.

Everything after loading (storage, the record service, pages, the API, workflows and
dashboards) reads these classes and never the YAML. They are built once per definition
version and shared freely across threads, which is why every one of them is frozen.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from formflow.expressions import Expression
from formflow.fields.kinds import Reference, ValueKind

if TYPE_CHECKING:
    from formflow.automations.model import Automation
    from formflow.fields.base import FieldType
    from formflow.record_actions.model import FormAction, Pool
from formflow.workflows.model import Workflow as Workflow  # re-exported: App names it

SYSTEM_FIELDS: Mapping[str, ValueKind] = MappingProxyType(
    {
        "id": ValueKind.INTEGER,
        "created_at": ValueKind.DATETIME,
        "updated_at": ValueKind.DATETIME,
        "created_by": ValueKind.REFERENCE,
        "updated_by": ValueKind.REFERENCE,
        "version": ValueKind.INTEGER,
    }
)
"""Columns every form has; they may be listed, sorted and filtered, never declared."""

LANGUAGES = ("zh", "en")


@dataclass(frozen=True)
class Label:
    """Text shown to people, in Simplified Chinese and/or English."""

    zh: str | None = None
    en: str | None = None

    def text(self, language: str = "zh") -> str:
        """The text in ``language``, falling back to the other language."""
        preferred = self.en if language == "en" else self.zh
        return preferred or self.zh or self.en or ""

    def __str__(self) -> str:
        return self.text()


class Scope(StrEnum):
    """Which records a permission reaches."""

    NONE = "none"
    OWN = "own"
    DEPARTMENT = "department"
    ALL = "all"


class Operation(StrEnum):
    """What a form's permissions grant a scope for: the four things done to records."""

    CREATE = "create"
    READ = "read"
    UPDATE = "update"
    DELETE = "delete"


class FieldRule(StrEnum):
    """What a role may do with one field, from least to most."""

    HIDDEN = "hidden"
    READ = "read"
    EDIT = "edit"


@dataclass(frozen=True)
class Permission:
    """What one role may do on one form: operation by operation, field by field, and whether it
    may hand records to someone else (change their owner)."""

    create: Scope = Scope.NONE
    read: Scope = Scope.NONE
    update: Scope = Scope.NONE
    delete: Scope = Scope.NONE
    reassign: bool = False
    fields: Mapping[str, FieldRule] = field(default_factory=dict, hash=False)

    def scope(self, operation: Operation) -> Scope:
        scope: Scope = getattr(self, operation.value)
        return scope

    def field_rule(self, key: str) -> FieldRule:
        return self.fields.get(key, FieldRule.EDIT)


class OnDelete(StrEnum):
    """What happens to a record when the record its link field points to is deleted."""

    RESTRICT = "restrict"
    SET_NULL = "set_null"
    CASCADE = "cascade"


@dataclass(frozen=True)
class Option:
    value: str
    label: Label
    color: str | None = None
    renamed_from: tuple[str, ...] = ()
    """Former option values whose stored rows a migration moves to this option."""


@dataclass(frozen=True)
class Role:
    key: str
    label: Label
    description: Label | None = None


AGGREGATES = ("count", "sum", "min", "max", "latest")
"""What a roll-up works out over the records that link to its record."""


@dataclass(frozen=True)
class Rollup:
    """A roll-up's meaning: ``aggregate`` of ``field`` over the live records of ``form`` whose
    link field ``link`` names this record, among those ``filter`` (the structured filter
    language of :mod:`formflow.records.filters`) selects; ``latest`` takes ``field`` of the
    record with the greatest ``by``."""

    form: str
    link: str
    aggregate: str
    filter: Mapping[str, Any] | None = field(default=None, hash=False)
    field: str | None = None  # declared after ``filter``: it shadows dataclasses.field
    by: str = "created_at"


@dataclass(frozen=True)
class Lookup:
    """A lookup's meaning: the field ``field`` of the record this record's link ``link`` names."""

    link: str
    field: str


@dataclass(frozen=True)
class FormRule:
    """A condition every stored record of a form must meet, checked by the record service on
    every write; ``field`` is where its ``message`` is shown (``None``: the whole record)."""

    key: str
    expression: Expression
    message: Label
    field: str | None = None


@dataclass(frozen=True)
class Field:
    """One field of a form (or of a subtable's rows).

    The common settings come first; the rest apply to some types only and stay at their
    defaults elsewhere. ``settings`` keeps every key the definition gave, so plugin field
    types can read their own.
    """

    key: str
    type: str
    kind: ValueKind
    label: Label
    field_type: FieldType = field(compare=False, repr=False)
    """The type itself, which everything about the field's values is asked."""
    help: Label | None = None
    required: bool = False
    required_if: Expression | None = None
    visible_if: Expression | None = None
    readonly: bool = False
    set_once: bool = False
    unique: bool = False
    indexed: bool = False
    default: Any = None
    default_expr: Expression | None = None
    renamed_from: str | None = None
    # text, textarea
    max_length: int | None = None
    min_length: int | None = None
    pattern: str | None = None
    text_format: str | None = None  # a name in formflow.fields.formats.TEXT_FORMATS
    # link: (field of the linked form, field of this form) pairs that must hold equal values
    link_filter: tuple[tuple[str, str], ...] = ()
    # link: (field of this form, field of the linked form) pairs; the first is filled from
    # the second whenever the link is chosen (``fills``)
    fills: tuple[tuple[str, str], ...] = ()
    filled_from: tuple[str, str] | None = None
    """(link field, field of the linked form) this field is filled from, if a link fills it."""
    # number, money, percent, formula, date
    scale: int = 0
    grouping: bool = True  # thousands separators; off for years and codes
    minimum: Any = None
    maximum: Any = None
    currency: str | None = None
    # select, multiselect
    options: tuple[Option, ...] = ()
    style: str | None = None
    min_items: int | None = None
    max_items: int | None = None
    # link
    target_form: str | None = None
    on_delete: OnDelete = OnDelete.RESTRICT
    # subtable
    fields: tuple[Field, ...] = ()
    min_rows: int | None = None
    max_rows: int | None = None
    # attachment, user
    multiple: bool = False
    max_size_mb: float | None = None
    accept: tuple[str, ...] = ()
    # phone
    region: str | None = None
    # auto_number
    number_pattern: str | None = None
    # formula
    expression: Expression | None = None
    result_type: str | None = None
    # rollup, lookup
    rollup: Rollup | None = None
    lookup: Lookup | None = None
    source: Field | None = field(default=None, compare=False, repr=False)
    """The field a roll-up aggregates or a lookup shows, once the app is compiled."""
    settings: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def option_values(self) -> tuple[str, ...]:
        return tuple(option.value for option in self.options)

    @property
    def is_computed(self) -> bool:
        """Whether the engine, not the person filling the form, sets this value."""
        return self.field_type.computed

    @property
    def is_link(self) -> bool:
        """Whether the value is the id of a record of another form (``target_form``)."""
        return self.field_type.reference is Reference.RECORD

    @property
    def is_derived(self) -> bool:
        """Whether the value is kept from other records (a roll-up or a lookup)."""
        return self.rollup is not None or self.lookup is not None

    @property
    def is_formula(self) -> bool:
        """Whether the value is worked out from the record by an expression."""
        return self.expression is not None

    def subfield(self, key: str) -> Field:
        """A subtable's row field by key."""
        for row_field in self.fields:
            if row_field.key == key:
                return row_field
        raise KeyError(key)


@dataclass(frozen=True)
class SortKey:
    field: str
    descending: bool = False

    def __str__(self) -> str:
        return f"-{self.field}" if self.descending else self.field


@dataclass(frozen=True)
class Card:
    """How a list shows one record on a narrow screen: a title, a subtitle and a few badges,
    so that several records fit one phone screen instead of one wide table row each."""

    title: str
    subtitle: str | None = None
    badges: tuple[str, ...] = ()

    @property
    def fields(self) -> tuple[str, ...]:
        return (self.title, *((self.subtitle,) if self.subtitle else ()), *self.badges)


@dataclass(frozen=True)
class ListView:
    """How a form's list page starts out, before a person changes anything."""

    columns: tuple[str, ...] = ()
    sort: tuple[SortKey, ...] = (SortKey("id", descending=True),)
    filters: tuple[str, ...] = ()
    search: tuple[str, ...] = ()
    page_size: int = 20
    highlight: Expression | None = None
    """Rows for which this holds stand out (an overdue date, say)."""
    card: Card | None = None
    """How a record shows on a narrow screen; ``None``: the table's columns, stacked."""


@dataclass(frozen=True)
class Index:
    """A composite index over field or system-field keys, in order."""

    keys: tuple[SortKey, ...]
    unique: bool = False
    declared: bool = True
    covering: bool = False
    """Whether statements are to be answered from the index alone: it then also holds
    the column that marks deleted records, which every statement reads."""

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(key.field for key in self.keys)


@dataclass(frozen=True)
class AgendaItem:
    """What makes a record due for someone: the value of ``date`` has come (or comes within
    ``ahead_days``) and the user field ``user`` names them, until the record matches ``done``
    (the structured filter language). The workbench's Today list is made of these."""

    key: str
    label: Label
    date: str
    user: str
    title: str
    ahead_days: int = 0
    done: Mapping[str, Any] | None = field(default=None, hash=False)


@dataclass(frozen=True)
class InlineCreate:
    """Records of ``form`` (whose link field ``link`` points here) added on this form's
    create page and saved with the new record in one unit of work."""

    form: str
    link: str
    fields: tuple[str, ...]
    label: Label | None = None
    rows: int = 2


@dataclass(frozen=True)
class MenuGroup:
    """Forms shown together, in this order, in the navigation; ``label`` heads the group."""

    forms: tuple[str, ...]
    label: Label | None = None


@dataclass(frozen=True)
class Form:
    """One form of an app, compiled from its definition file: its fields, what each role may
    do with its records (``permissions``, by role key), and how its pages show them.
    ``title_field`` names a record in lists and links; ``owner_field`` holds who owns it."""

    key: str
    label: Label
    title_field: str
    fields: tuple[Field, ...]
    permissions: Mapping[str, Permission]
    list_view: ListView = ListView()
    indexes: tuple[Index, ...] = ()
    owner_field: str = "created_by"
    description: Label | None = None
    icon: str | None = None
    rules: tuple[FormRule, ...] = ()
    actions: tuple[FormAction, ...] = ()
    """Buttons beyond edit and delete (see :mod:`formflow.record_actions`)."""
    pool: Pool | None = None
    """Who may read and claim the records nobody owns."""
    readonly_if: Expression | None = None
    """Records for which this is true are read-only to people: only the grants of record
    actions, workflows and automations change them."""
    agenda: tuple[AgendaItem, ...] = ()
    """When the form's records fall due, and for whom (the workbench's Today list)."""
    inline: tuple[InlineCreate, ...] = ()
    """Linked records the create page adds with the record (a company's people)."""
    _by_key: Mapping[str, Field] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_key", MappingProxyType({f.key: f for f in self.fields}))

    def field(self, key: str) -> Field:
        """A top-level field by key; ``KeyError`` if the form has none by that name."""
        return self._by_key[key]

    def has_field(self, key: str) -> bool:
        return key in self._by_key

    def permission(self, role: str) -> Permission:
        return self.permissions.get(role, Permission())

    def action(self, key: str) -> FormAction | None:
        """One of the form's record actions by key, or ``None``."""
        return next((action for action in self.actions if action.key == key), None)

    def link_fields(self) -> Iterator[Field]:
        return (f for f in self.fields if f.is_link)


@dataclass(frozen=True)
class Measure:
    """What a widget computes per group: ``op`` over ``field``, over the records that also
    match ``filter`` (in the filter language; the widget's own filters apply as well)."""

    op: str
    field: str | None = None
    filter: Mapping[str, Any] | None = dataclasses.field(default=None, compare=False)

    @property
    def name(self) -> str:
        return self.op if self.field is None else f"{self.op}_{self.field}"


@dataclass(frozen=True)
class Ratio:
    """One measure divided by another (a win rate, an average deal size)."""

    numerator: Measure
    denominator: Measure
    percent: bool = False


@dataclass(frozen=True)
class Dimension:
    """What a widget groups by: a field, a linked record's field (``account.industry``),
    a date field's ``bucket`` (day, week, month, quarter, year), or a date field's
    ``age``: days before today, in ranges ending at each of these numbers of days and a
    last one beyond them (``(30, 60, 90)``: 0-30, 31-60, 61-90, 90+)."""

    field: str
    bucket: str | None = None
    age: tuple[int, ...] | None = None


@dataclass(frozen=True)
class TargetSource:
    """Where a target-against-actual widget reads its targets: ``measure`` of another
    ``form``, grouped by ``by`` (the field matching the widget's first dimension) and
    limited to the dashboard's date range through ``date_field``."""

    form: str
    measure: Measure
    by: str
    date_field: str | None = None
    rollup: str | None = None
    department: str | None = None


@dataclass(frozen=True)
class ForecastSource:
    """What a forecast widget weighs and sets beside the pipeline: each record's measure
    times its ``probability`` field (a percentage), and the records matching ``won``
    (a fixed filter), measured the same way, bucketed by ``won_date``."""

    probability: str
    won: Mapping[str, Any] = field(default_factory=dict, compare=False)
    won_date: str | None = None


@dataclass(frozen=True)
class StageSource:
    """What a stage history widget sets beside each stage of its ``group_by`` field: the
    values that close a record as ``won`` and as ``lost``, and the ``probability`` field
    whose average over the stage's open records is the probability the pipeline assumes."""

    won: tuple[str, ...]
    lost: tuple[str, ...]
    probability: str | None = None

    @property
    def closed(self) -> tuple[str, ...]:
        return (*self.won, *self.lost)


WIDGET_KINDS = (
    "number",
    "bar",
    "line",
    "area",
    "pie",
    "donut",
    "funnel",
    "pivot",
    "table",
    "ranking",
    "target",
    "calendar",
    "gantt",
    "forecast",
    "stage_history",
)


@dataclass(frozen=True)
class Widget:
    """One figure, chart or table of a dashboard, over the records of ``form``.

    ``dimensions`` are the categories (the first) and the series or pivot columns (the
    second); ``measures`` the figures per group (a second one is drawn on a second axis);
    ``ratio`` replaces them with one measure divided by another. ``date_field`` is what
    the dashboard's date range and a number's ``period`` apply to.
    """

    key: str
    type: str
    label: Label
    form: str
    dimensions: tuple[Dimension, ...] = ()
    measures: tuple[Measure, ...] = (Measure("count"),)
    ratio: Ratio | None = None
    filter: Mapping[str, Any] = field(default_factory=dict, compare=False)
    date_field: str | None = None
    period: str | None = None
    stacked: bool = False
    sort: str | None = None
    limit: int | None = None
    columns: tuple[str, ...] = ()
    start: str | None = None
    end: str | None = None
    target: TargetSource | None = None
    width: int = 1
    forecast: ForecastSource | None = None
    stages: StageSource | None = None

    @property
    def kind(self) -> str:
        """The widget's kind (``type`` in its YAML): number, bar, pie, funnel, pivot…"""
        return self.type

    @property
    def group_by(self) -> str | None:
        return self.dimensions[0].field if self.dimensions else None

    @property
    def measure(self) -> Measure:
        return self.measures[0]

    @property
    def forms(self) -> tuple[str, ...]:
        """Every form whose records the widget reads."""
        return (self.form, self.target.form) if self.target else (self.form,)


@dataclass(frozen=True)
class DashboardFilter:
    """A filter the viewer sets for the whole dashboard: a ``date_range`` (on each
    widget's ``date_field``), the ``owner`` (each form's owner field), a ``department``
    (records owned by its members or those of the departments below it), or a ``field``
    (applied to the widgets whose form has a field of that key)."""

    kind: str
    field: str | None = None
    label: Label | None = None

    @property
    def name(self) -> str:
        return self.field if self.kind == "field" and self.field else self.kind


@dataclass(frozen=True)
class Dashboard:
    key: str
    label: Label
    widgets: tuple[Widget, ...]
    roles: tuple[str, ...] = ()
    filters: tuple[DashboardFilter, ...] = ()

    def widget(self, key: str) -> Widget | None:
        return next((w for w in self.widgets if w.key == key), None)


class DuplicateEffect(StrEnum):
    """What a duplicate check does with a match: refuse the write, or ask first."""

    BLOCK = "block"
    WARN = "warn"


@dataclass(frozen=True)
class DuplicateCheck:
    """Values that mean the same party across forms (``duplicate_checks`` in app.yaml).

    Each of ``fields`` is a ``(form, field)`` pair; their values are compared after the
    ``normaliser`` (see :mod:`formflow.duplicates.normalisers`), so "华为技术有限公司" on one
    form matches "华为技术" on another.
    """

    key: str
    label: Label
    normaliser: str
    effect: DuplicateEffect
    fields: tuple[tuple[str, str], ...]

    def fields_of(self, form_key: str) -> tuple[str, ...]:
        """The fields of ``form_key`` this check compares."""
        return tuple(field for form, field in self.fields if form == form_key)


@dataclass(frozen=True)
class App:
    """A whole compiled app definition.

    ``digest`` identifies this exact definition: the same files give the same digest, so a
    stored definition version can be recognised without comparing YAML.
    """

    key: str
    version: str
    label: Label
    roles: tuple[Role, ...]
    forms: Mapping[str, Form]
    workflows: Mapping[str, Workflow] = field(default_factory=dict)
    dashboards: Mapping[str, Dashboard] = field(default_factory=dict)
    automations: Mapping[str, Automation] = field(default_factory=dict)
    description: Label | None = None
    default_language: str = "zh"
    digest: str = ""
    menu: tuple[MenuGroup, ...] = ()
    """The navigation's groups, in order; forms no group names follow (``menu_groups``)."""
    duplicate_checks: tuple[DuplicateCheck, ...] = ()

    def form(self, key: str) -> Form:
        return self.forms[key]

    def menu_groups(self) -> tuple[MenuGroup, ...]:
        """Every form once, in the order the navigation shows them: the declared groups,
        then the forms they leave out, in file order."""
        listed = {key for group in self.menu for key in group.forms}
        rest = tuple(key for key in self.forms if key not in listed)
        return (*self.menu, MenuGroup(rest)) if rest else self.menu

    @property
    def role_keys(self) -> tuple[str, ...]:
        return tuple(role.key for role in self.roles)

    def summary(self) -> str:
        """One line saying what the app holds, for people and logs."""
        field_count = sum(len(form.fields) for form in self.forms.values())
        automations = f", {len(self.automations)} automations" if self.automations else ""
        return (
            f"{self.key} {self.version}: {len(self.forms)} forms, {field_count} fields, "
            f"{len(self.roles)} roles, {len(self.workflows)} workflows, "
            f"{len(self.dashboards)} dashboards{automations}"
        )
