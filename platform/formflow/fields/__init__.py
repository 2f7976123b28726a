"""Field types: one module per type, each owning everything about its fields.

The rest of the engine asks a field's type (``field.field_type``) rather than comparing
type names; plugins add types through the ``formflow_field_types`` hook.
"""

from formflow.fields.base import LONG_TEXT, DefinitionChecks, FieldType
from formflow.fields.kinds import Reference, ValueKind
from formflow.fields.registry import BUILTIN_FIELD_TYPES, BUILTIN_REGISTRY, FieldTypeRegistry
from formflow.fields.values import Invalid, Purpose, is_empty, stored_date

__all__ = [
    "BUILTIN_FIELD_TYPES",
    "BUILTIN_REGISTRY",
    "LONG_TEXT",
    "DefinitionChecks",
    "FieldType",
    "FieldTypeRegistry",
    "Invalid",
    "Purpose",
    "Reference",
    "ValueKind",
    "is_empty",
    "stored_date",
]
