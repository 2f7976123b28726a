"""``lookup``: a field (``field``) of the record this record's link field (``link``) names,
shown, filtered and sorted on this record."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from formflow.fields.derived import DerivedType
from formflow.fields.kinds import ValueKind


class LookupType(DerivedType):
    name = "lookup"
    kind = ValueKind.TEXT

    def settings(self, item: Mapping[str, Any]) -> dict[str, Any]:
        from formflow.definitions.model import Lookup  # the model imports the field types

        return {"lookup": Lookup(link=item["link"], field=item["field"])}


LOOKUP = LookupType()
