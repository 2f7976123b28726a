"""Formflow's own behaviour, registered as a plugin like any other.

Its implementations are marked ``trylast`` so that outside plugins run before them; where a
hook's answers conflict (a field type name, say), the loader says which plugin clashed.
"""

from __future__ import annotations

from formflow.fields import BUILTIN_FIELD_TYPES, FieldType
from formflow.hookspecs import hookimpl


@hookimpl(trylast=True)
def formflow_field_types() -> list[FieldType]:
    return list(BUILTIN_FIELD_TYPES)
