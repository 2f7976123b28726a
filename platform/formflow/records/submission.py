"""Checking a submission against its form and working out the values to store.

This is the pure half of a write: no database, no plugins. It converts every submitted
value, fills defaults, then works out formulas and ``visible_if``/``required``/
``required_if`` in the one order :func:`~formflow.records.compute.settle` defines, for the
record and for each subtable row alike, and gathers every problem before failing once (a
person fixes a form in one pass, not ten). An expression of the definition that fails
while it runs (a formula, a ``default_expr``) is a problem of its field, never a silent
empty value: the admin must hear of it, and a condition reading it must not quietly flip.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any

from formflow.definitions.model import SYSTEM_FIELDS, Field, Form
from formflow.errors import N_, Problem, ValidationFailed
from formflow.fields import Invalid, ValueKind, is_empty
from formflow.records.compute import (
    Context,
    DefaultFailed,
    ExpressionRefused,
    Settled,
    default_value,
    settle,
)
from formflow.records.values import ValueConverter

MAX_ROWS = 1000


@dataclass(frozen=True)
class Prepared:
    """What a valid submission will store: field values, and subtable rows by field key."""

    values: dict[str, Any]
    rows: dict[str, list[dict[str, Any]]]
    basis: Basis | None = dataclasses.field(default=None, compare=False, repr=False)
    """How it was worked out, for :meth:`Preparer.again` (``None``: not by a preparer)."""


@dataclass(frozen=True)
class Basis:
    """What a submission was prepared from and what it found on the way, so that values
    set on top of it (by in-save rules) can be worked out without doing the rest again."""

    incoming: Mapping[str, Any]
    existing: Mapping[str, Any] | None
    existing_rows: Mapping[str, list[dict[str, Any]]] | None
    system: Mapping[str, Any]
    derive: Derive | None
    fill: Fill | None
    started: Mapping[str, Any]
    """The record's values before formulas and conditions: converted, defaulted, filled
    and derived."""
    settled: Settled
    submitted_rows: bool


class Reach(Enum):
    """How much of a prepared submission values set on top of it oblige to work out again."""

    OWN = "own"
    """Only those values: nothing else reads them (converted, shown or not, needed or not)."""
    SETTLE = "settle"
    """Formulas and conditions too: one of them reads a value set."""
    WHOLE = "whole"
    """Everything: a default, a link's fill, a derived value or a subtable depends on them,
    or they do not fit (the whole preparation then names every problem, as it always does)."""


class Problems(dict[str, list[Problem]]):
    """Every problem found so far, by field path: each step adds to it, and the
    submission fails once with all of them."""

    def add(self, path: str, problem: Problem) -> None:
        self.setdefault(path, []).append(problem)

    def about(self, key: str) -> bool:
        """Whether a problem is about field ``key`` or a part of it (a row's cell)."""
        return key in self or key in {path.split(".", 1)[0] for path in self}


class Unfit(ValidationFailed):
    """A submission with problems, and its values as far as they could be worked out
    (those of fields with a problem left out), so that the record service can add the
    problems it finds in the rest (unique values, rules) to the same answer."""

    def __init__(self, problems: dict[str, list[Problem]], values: Mapping[str, Any]) -> None:
        self.values = {key: value for key, value in values.items() if key not in problems}
        super().__init__(problems)


Derive = Callable[[Mapping[str, Any]], Mapping[str, Any]]
"""A record's derived values (roll-ups, lookups) for its other values."""

Fill = Callable[[Field, Any], Mapping[str, Any] | None]
"""The stored values of the record a link field points at (``None``: no such live record),
which the fields the link ``fills`` take."""


class Preparer:
    def __init__(self, converter: ValueConverter) -> None:
        self.converter = converter

    def prepare(
        self,
        form: Form,
        incoming: Mapping[str, Any],
        context: Context,
        existing: Mapping[str, Any] | None = None,
        existing_rows: Mapping[str, list[dict[str, Any]]] | None = None,
        system: Mapping[str, Any] | None = None,
        derive: Derive | None = None,
        fill: Fill | None = None,
        found: Mapping[str, list[Problem]] | None = None,
    ) -> Prepared:
        """The values to store for ``incoming`` (on top of ``existing`` for an update).

        ``found`` are problems the caller found already in what was sent (a key that is
        not a field, a value of the wrong JSON type), whose values it left out of
        ``incoming``: they fail the submission with every problem found here, and a field
        among them is not also said to be missing. A submission that fails raises
        :class:`Unfit`, with the values that could be worked out.

        ``derive`` gives the record's roll-ups and lookups for its values, which its
        formulas read (see :mod:`formflow.records.derived`). ``fill`` reads a linked record
        for the fields its link ``fills``; a value given for such a field must be the one
        it is filled with.

        ``existing_rows`` are the record's current subtable rows, which formulas read when
        the update leaves a subtable alone. ``system`` are the system fields' values as
        expressions read them (by default, what :meth:`Context.system_values` gives).
        """
        system = context.system_values(existing) if system is None else system
        submission = _Submission(self.converter, context)
        for path, problems in (found or {}).items():
            submission.problems.setdefault(path, []).extend(problems)
        try:
            return submission.prepare(form, incoming, existing, existing_rows, system, derive, fill)
        except ExpressionRefused as refused:
            submission.problems.add(refused.field, Problem("expression_limit", _refusal(refused)))
            raise ValidationFailed(submission.problems) from None

    def again(
        self, form: Form, prepared: Prepared, given: Mapping[str, Any], context: Context
    ) -> Prepared:
        """What :meth:`prepare` gives for the values ``prepared`` was prepared from with
        ``given`` on top (what the form's in-save rules set), working out again only what
        reads ``given`` (see :func:`reach`): a save whose rule stamps a field nothing reads
        converts and checks that one value, not the whole record again. Whenever a value
        set does not fit, the whole preparation runs again and fails as it would have, with
        every problem."""
        basis = prepared.basis
        if basis is None:
            raise ValueError("only a prepared submission can be worked out again")

        def whole() -> Prepared:
            return self.prepare(
                form,
                {**basis.incoming, **given},
                context,
                basis.existing,
                basis.existing_rows,
                basis.system,
                basis.derive,
                basis.fill,
            )

        how = reach(form, given, basis)
        if how is Reach.WHOLE:
            return whole()
        submission = _Submission(self.converter, context)
        converted: dict[str, Any] = {}
        for item in form.fields:
            if item.key in given:
                submission._convert(item, given[item.key], item.key, converted)
        if submission.problems:
            return whole()
        started = {**basis.started, **converted}
        incoming = {**basis.incoming, **given}
        if how is Reach.OWN:
            shown = {
                key: value if key in basis.settled.visible else None
                for key, value in converted.items()
            }
            if any(key in basis.settled.required and is_empty(shown[key]) for key in shown):
                return whole()
            again = replace(basis, incoming=incoming, started=started)
            return Prepared({**prepared.values, **shown}, prepared.rows, again)
        try:
            values, rows, settled = submission.finish(
                form, dict(started), {}, basis.existing_rows, basis.system
            )
        except (ExpressionRefused, ValidationFailed):
            return whole()
        again = replace(basis, incoming=incoming, started=started, settled=settled)
        return Prepared(values, rows, again)


def reach(form: Form, given: Mapping[str, Any], basis: Basis) -> Reach:
    """How much of the submission ``basis`` describes values ``given`` on top of it
    oblige to work out again: everything when a field the engine sets (computed, filled,
    a link, a subtable, a link's narrowing field), a default still to take, or submitted
    rows (whose defaults read the record) may depend on them; formulas and conditions when
    one reads them (a row's reads the whole record as ``parent``); else only themselves."""
    fields = {item.key: item for item in form.fields}
    narrowing = {ours for link in form.fields for _theirs, ours in link.link_filter}
    for key in given:
        item = fields.get(key)
        if (
            item is None
            or key in SYSTEM_FIELDS
            or key in narrowing
            or item.is_computed
            or item.is_link
            or item.filled_from is not None
            or item.kind is ValueKind.ROWS
        ):
            return Reach.WHOLE
    if basis.submitted_rows:
        return Reach.WHOLE
    if basis.existing is None and any(
        item.default_expr is not None
        and item.key not in basis.incoming
        and item.key not in given
        and not item.default_expr.names.isdisjoint(given)
        for item in form.fields
    ):
        return Reach.WHOLE
    for item in form.fields:
        for expression in (item.expression, item.visible_if, item.required_if):
            if expression is not None and not expression.names.isdisjoint(given):
                return Reach.SETTLE
        for sub in item.fields:
            for expression in (sub.expression, sub.visible_if, sub.required_if):
                if expression is not None and "parent" in expression.names:
                    return Reach.SETTLE
    return Reach.OWN


class _Submission:
    """One submission being prepared: the context its expressions read, and every problem
    found so far (each step adds to them; the submission fails once, with all of them)."""

    def __init__(self, converter: ValueConverter, context: Context) -> None:
        self.converter = converter
        self.context = context
        self.problems = Problems()

    def prepare(
        self,
        form: Form,
        incoming: Mapping[str, Any],
        existing: Mapping[str, Any] | None,
        existing_rows: Mapping[str, list[dict[str, Any]]] | None,
        system: Mapping[str, Any],
        derive: Derive | None = None,
        fill: Fill | None = None,
    ) -> Prepared:
        self._reject_unknown(form, incoming)
        values = self._values(form, incoming, existing, system)
        if fill is not None:  # narrowing first: a link it fills may fill others in turn
            _fill_narrowing(form, values, fill, self.problems)
            _fill(form, incoming, existing is None, values, fill, self.problems)
        if derive is not None:
            values.update(derive(values))
        submitted = {
            f.key: self._rows(f, incoming[f.key], {**values, **system})
            for f in form.fields
            if f.kind is ValueKind.ROWS and f.key in incoming
        }
        started = dict(values)
        values, rows, settled = self.finish(form, values, submitted, existing_rows, system)
        basis = Basis(
            incoming,
            existing,
            existing_rows,
            system,
            derive,
            fill,
            started,
            settled,
            bool(submitted),
        )
        return Prepared(values, rows, basis)

    def finish(
        self,
        form: Form,
        values: dict[str, Any],
        submitted: Mapping[str, list[dict[str, Any]]],
        existing_rows: Mapping[str, list[dict[str, Any]]] | None,
        system: Mapping[str, Any],
    ) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]], Settled]:
        """The record's ``values`` (converted, defaulted, filled and derived) with its
        formulas and conditions worked out and every check made: the values and rows to
        store, and what settling them found."""
        names: dict[str, Any] = {**values}
        for field in form.fields:
            if field.kind is ValueKind.ROWS:
                stored = [dict(row) for row in (existing_rows or {}).get(field.key, [])]
                names[field.key] = submitted.get(field.key, stored)
        settled = settle(form, names, self.context, system)
        values.update({key: names[key] for key in values})
        self._check(form, settled, names)
        if self.problems:
            raise Unfit(self.problems, names)
        rows = {
            f.key: names[f.key]
            for f in form.fields
            if f.kind is ValueKind.ROWS
            and (f.key in submitted or names[f.key] != (existing_rows or {}).get(f.key, []))
        }
        return values, rows, settled

    def _values(
        self,
        form: Form,
        incoming: Mapping[str, Any],
        existing: Mapping[str, Any] | None,
        system: Mapping[str, Any],
    ) -> dict[str, Any]:
        """The record's own values (not its rows): the current ones, those given, and for
        a new record the defaults of the rest (which see the values given)."""
        values: dict[str, Any] = {
            f.key: (existing or {}).get(f.key) for f in form.fields if f.kind is not ValueKind.ROWS
        }
        for field in form.fields:
            if field.key in incoming and field.kind is not ValueKind.ROWS and not field.is_computed:
                self._convert(field, incoming[field.key], field.key, values)
        if existing is None:
            for field in form.fields:
                if field.key in incoming or field.kind is ValueKind.ROWS:
                    continue
                if field.default_expr is None and field.default is None:
                    continue  # nothing to take: the value stays empty, as converting it would
                # an expression sees the values given and the defaults taken so far
                names = values if field.default_expr is None else {**values, **system}
                self._default(field, names, field.key, values)
        return values

    def _check(self, form: Form, settled: Settled, names: Mapping[str, Any]) -> None:
        """Needed values that are missing, and formulas that failed, once all is worked out."""
        for field in form.fields:
            if field.kind is ValueKind.ROWS:
                self._check_rows(field, settled, names[field.key])
            elif (
                field.key in settled.required
                and not self.problems.about(field.key)
                and is_empty(names.get(field.key))
            ):
                self.problems.add(field.key, Problem("required", N_("is required")))
        _add_failures(form.fields, settled.failures, "", self.problems)

    def _reject_unknown(self, form: Form, incoming: Mapping[str, Any]) -> None:
        for key in incoming:
            if key in SYSTEM_FIELDS or not form.has_field(key):
                self.problems.add(
                    key,
                    Problem(
                        "unknown_field",
                        N_("'%(key)s' is not a field of this form"),
                        (("key", key),),
                    ),
                )
            elif form.field(key).is_computed:
                self.problems.add(
                    key, Problem("read_only", N_("is worked out by the system and cannot be set"))
                )

    def _convert(self, field: Field, raw: Any, path: str, values: dict[str, Any]) -> None:
        try:
            values[field.key] = self.converter.convert(field, raw)
        except Invalid as exc:
            self.problems.add(path, exc.problem)

    def _default(
        self, field: Field, names: Mapping[str, Any], path: str, values: dict[str, Any]
    ) -> None:
        if field.is_computed:
            return
        try:
            raw = default_value(field, names, self.context)
        except DefaultFailed as exc:
            self.problems.add(path, _expression_problem("default_failed", str(exc)))
            return
        except ExpressionRefused as refused:
            raise ExpressionRefused(path, refused.reason) from None
        self._convert(field, raw, path, values)

    def _rows(self, field: Field, raw: Any, parent: Mapping[str, Any]) -> list[dict[str, Any]]:
        if raw is None:
            raw = []
        if not isinstance(raw, list) or not all(isinstance(row, Mapping) for row in raw):
            self.problems.add(field.key, Problem("type", N_("must be a list of rows")))
            return []
        if len(raw) > MAX_ROWS:
            self.problems.add(
                field.key,
                Problem("max_rows", N_("may have at most %(limit)s rows"), (("limit", MAX_ROWS),)),
            )
            return []
        return [
            self._row(field, index, submitted, parent)
            for index, submitted in enumerate(
                r for r in raw if not all(is_empty(v) for v in r.values())
            )
        ]

    def _row(
        self, field: Field, index: int, submitted: Mapping[str, Any], parent: Mapping[str, Any]
    ) -> dict[str, Any]:
        row: dict[str, Any] = {}
        for key in submitted:
            if not any(sub.key == key for sub in field.fields):
                self.problems.add(
                    f"{field.key}.{index}.{key}",
                    Problem(
                        "unknown_field",
                        N_("'%(key)s' is not a column of this table"),
                        (("key", key),),
                    ),
                )
        for sub in field.fields:
            path = f"{field.key}.{index}.{sub.key}"
            if sub.key in submitted and not sub.is_computed:
                self._convert(sub, submitted[sub.key], path, row)
            elif not sub.is_computed:
                row.setdefault(sub.key, None)
                self._default(sub, {**row, "parent": parent}, path, row)
        return row

    def _check_rows(self, field: Field, settled: Settled, rows: list[dict[str, Any]]) -> None:
        """A subtable's own limits (when it is shown), then each row's needed fields and
        failed formulas."""
        if field.key in settled.visible:
            if field.key in settled.required and not rows and not self.problems.about(field.key):
                self.problems.add(field.key, Problem("required", N_("is required")))
            if field.min_rows is not None and len(rows) < field.min_rows:
                self.problems.add(
                    field.key,
                    Problem(
                        "min_rows",
                        N_("needs at least %(limit)s rows"),
                        (("limit", field.min_rows),),
                    ),
                )
            if field.max_rows is not None and len(rows) > field.max_rows:
                self.problems.add(
                    field.key,
                    Problem(
                        "max_rows",
                        N_("may have at most %(limit)s rows"),
                        (("limit", field.max_rows),),
                    ),
                )
        for index, (row, found) in enumerate(
            zip(rows, settled.rows.get(field.key, []), strict=True)
        ):
            prefix = f"{field.key}.{index}."
            for sub in field.fields:
                path = prefix + sub.key
                if (
                    sub.key in found.required
                    and path not in self.problems
                    and is_empty(row.get(sub.key))
                ):
                    self.problems.add(path, Problem("required", N_("is required")))
            _add_failures(field.fields, found.failures, prefix, self.problems)


def _fill(
    form: Form,
    incoming: Mapping[str, Any],
    creating: bool,
    values: dict[str, Any],
    fill: Fill,
    problems: Problems,
) -> None:
    """Give each field a link ``fills`` the linked record's value (empty when the link is
    emptied), when the record is new or the link or the filled field is sent; a different
    value sent for a filled field is refused, so no caller can make the two disagree."""
    for link in form.fields:
        if not link.fills or link.key in problems:
            continue
        sent = link.key in incoming or any(ours in incoming for ours, _theirs in link.fills)
        if not creating and not sent:
            continue
        chosen = values.get(link.key)
        source = fill(link, chosen) if chosen is not None else {}
        if source is None:
            continue  # no such record: the reference check says so next to the link
        for ours, theirs in link.fills:
            value = source.get(theirs)
            given = values.get(ours)
            if ours in incoming and given is not None and given != value and ours not in problems:
                problems.add(
                    ours,
                    Problem(
                        "filled",
                        N_("is filled from %(link)s and cannot be set to another value"),
                        (("link", link.label),),
                    ),
                )
            values[ours] = value


def _fill_narrowing(
    form: Form, values: dict[str, Any], fill: Fill, problems: Mapping[str, list[Problem]]
) -> None:
    """Give an empty field that narrows a chosen link (``link_filter``) the chosen record's
    value: it is the only value the filter lets through, so a record made from the linked
    record's page, or sent with the link alone, need not repeat it."""
    for link in form.fields:
        chosen = values.get(link.key)
        if not link.link_filter or chosen is None or link.key in problems:
            continue
        empty = [
            (theirs, ours)
            for theirs, ours in link.link_filter
            if form.has_field(ours)
            and narrowing_fillable(form.field(ours))
            and is_empty(values.get(ours))
        ]
        source = fill(link, chosen) if empty else None
        if source is None:
            continue  # nothing to fill, or no such record (the reference check says so)
        for theirs, ours in empty:
            values[ours] = source.get(theirs)


def narrowing_fillable(field: Field) -> bool:
    """Whether a field narrowing a link may be filled from the chosen record: one people
    fill in themselves (not read-only, worked out or filled from another link)."""
    return not field.readonly and not field.is_computed and field.filled_from is None


def _add_failures(
    fields: tuple[Field, ...], failures: Mapping[str, str], prefix: str, problems: Problems
) -> None:
    """A formula that failed is a problem of its field, unless a value it reads has a
    problem already (fixing that one will fix the formula)."""
    by_key = {f.key: f for f in fields}
    for key, reason in failures.items():
        expression = by_key[key].expression
        reads = expression.names if expression is not None else frozenset()
        if any(
            path == prefix + name or path.startswith(f"{prefix}{name}.")
            for name in reads
            for path in problems
        ):
            continue
        problems.add(prefix + key, _expression_problem("formula_failed", reason))


def _expression_problem(code: str, reason: str) -> Problem:
    if code == "formula_failed":
        return Problem(
            code, N_("the formula could not be worked out: %(reason)s"), (("reason", reason),)
        )
    return Problem(
        code, N_("the default could not be worked out: %(reason)s"), (("reason", reason),)
    )


def _refusal(refused: ExpressionRefused) -> str:
    return f"cannot be worked out with these values: {refused.reason}"
