"""``rollup``: a count, sum, minimum, maximum or latest value of a field over the records of
another form (``form``) whose link field (``link``) names this record, among those a
``filter`` selects; ``latest`` takes the value of the record with the greatest ``by``
(``created_at`` unless it says)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from formflow.fields.derived import DerivedType
from formflow.fields.kinds import ValueKind


class RollupType(DerivedType):
    name = "rollup"
    kind = ValueKind.INTEGER

    def value_kind(self, item: Mapping[str, Any]) -> ValueKind:
        return ValueKind.INTEGER

    def settings(self, item: Mapping[str, Any]) -> dict[str, Any]:
        from formflow.definitions.model import Rollup  # the model imports the field types

        rollup = Rollup(
            form=item["form"],
            link=item["link"],
            aggregate=item["aggregate"],
            field=item.get("field"),
            filter=item.get("filter"),
            by=item.get("by", "created_at"),
        )
        return {"rollup": rollup, "target_form": None}


ROLLUP = RollupType()
