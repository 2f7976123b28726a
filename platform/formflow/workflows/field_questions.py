"""What the workflow engine must know about a field's type, asked in one place.

The ``fields/`` package will own every type question; until then these two functions are the
only places in the workflow code that look at a type, so routing them there is one change.
"""

from __future__ import annotations

from formflow.definitions.model import Field


def holds_one_option(field: Field) -> bool:
    """Whether ``field`` holds one option value, so it can be a workflow's state field."""
    return field.type == "select"


def holds_users(field: Field) -> bool:
    """Whether ``field`` holds users (one or several), so it can name approvers."""
    return field.type == "user"
