"""Creating a record with records that link to it, in one unit of work (a company with its
people), as a form's ``inline`` entries declare.

Every value is checked first, the record's and each row's, so a page shows every problem at
once; a row's problems are addressed as ``<form>.<row>.<field>`` (``contact.0.phone``).
Then the record and its rows are created by the record service, each with its own checks,
permissions and audit, in one transaction: a row refused then (a duplicate, a rule) leaves
nothing stored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from formflow.errors import N_, Problem, ValidationFailed
from formflow.records.access import Actor
from formflow.records.service import Record, RecordService
from formflow.records.unit import unit_of_work

Rows = Mapping[str, Sequence[Mapping[str, Any]]]


def create_with_inline(
    service: RecordService,
    actor: Actor,
    form_key: str,
    values: Mapping[str, Any],
    rows: Rows,
    *,
    warn_duplicates: bool = False,
) -> Record:
    """Create the record and, for each inline form, a record per row of ``rows[form]``
    linking to it; raise :class:`ValidationFailed` with every problem, storing nothing."""
    form = service.app.form(form_key)
    inline = {entry.form: entry for entry in form.inline}
    unknown = sorted(set(rows) - set(inline))
    if unknown:
        raise ValidationFailed(
            {unknown[0]: [Problem("unknown_field", N_("is not added inline here"))]}
        )
    problems: dict[str, list[Problem]] = {}
    try:
        service.check(actor, form_key, values)
    except ValidationFailed as failed:
        problems.update(failed.problems)
    for key, given in rows.items():
        link = inline[key].link
        for number, row in enumerate(given):
            try:
                service.check(actor, key, {**row, link: None})
            except ValidationFailed as failed:
                for field, found in failed.problems.items():
                    if field != link:  # the new record is not there yet
                        problems[f"{key}.{number}.{field}"] = found
    if problems:
        raise ValidationFailed(problems)
    with unit_of_work(service.engine):
        record = service.create(actor, form_key, values, warn_duplicates=warn_duplicates)
        for key, given in rows.items():
            for number, row in enumerate(given):
                try:
                    service.create(actor, key, {**row, inline[key].link: record["id"]})
                except ValidationFailed as failed:
                    raise ValidationFailed(
                        {
                            f"{key}.{number}.{field}": found
                            for field, found in failed.problems.items()
                        }
                    ) from None
    return record
