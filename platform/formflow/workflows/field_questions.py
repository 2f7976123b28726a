"""What the workflow engine asks of a field's type, in one place (the type answers)."""

from __future__ import annotations

from formflow.definitions.model import Field
from formflow.fields import Reference, ValueKind


def holds_one_option(field: Field) -> bool:
    """Whether ``field`` holds one option value, so it can be a workflow's state field."""
    return field.kind is ValueKind.TEXT and bool(field.options)


def holds_users(field: Field) -> bool:
    """Whether ``field`` holds users, so it can name approvers."""
    return field.field_type.reference is Reference.USER
