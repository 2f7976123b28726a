"""``link``: a record of another form (``form:``), kept as its id, with what happens when
that record is deleted (``on_delete``)."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from formflow.fields.base import DefinitionChecks, FieldType
from formflow.fields.kinds import Reference, ValueKind

if TYPE_CHECKING:
    from formflow.definitions.model import Field


class LinkType(FieldType):
    name = "link"
    kind = ValueKind.REFERENCE
    reference = Reference.RECORD

    def value_note(self, field: Field) -> str:
        return f"The id of a {field.target_form} record."

    def check(self, field: Field, item: Mapping[str, Any], checks: DefinitionChecks) -> None:
        super().check(field, item, checks)
        target = str(field.target_form)
        if target not in checks.form_keys:
            match = difflib.get_close_matches(target, sorted(checks.form_keys), n=1, cutoff=0.7)
            hint = f"; did you mean '{match[0]}'?" if match else ""
            checks.error(("form",), f"unknown form '{target}'{hint}")
        if field.on_delete.value == "set_null":
            needs = "required" if field.required else "required_if" if field.required_if else None
            if needs is not None:
                checks.error(
                    ("on_delete",),
                    f"on_delete: set_null cannot apply to a {needs} link: deleting the linked "
                    "record would empty it, and every later edit of the record would then fail; "
                    "use on_delete: restrict or cascade, or make the link optional",
                )


LINK = LinkType()
