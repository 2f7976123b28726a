"""What plugins add to the definition language, as one value.

Loading, validating, installing and migrating a definition all need the same field types
and expression functions; handing them over as one :class:`Toolkit` (the plugins' own, from
:attr:`formflow.plugins.Plugins.toolkit`) keeps ``formflow validate``, ``init``,
``migrate`` and the server from ever disagreeing about what a definition may use.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from formflow.automations.params import BUILTIN_PARAMS
from formflow.defaults.functions import BUILTIN_FUNCTIONS
from formflow.expressions import ExpressionEngine
from formflow.fields import BUILTIN_REGISTRY, FieldTypeRegistry


@dataclass(frozen=True)
class Toolkit:
    """The field types, the expression engine (with its functions) and the actions a
    definition may use."""

    field_types: FieldTypeRegistry = field(default_factory=lambda: BUILTIN_REGISTRY)
    expressions: ExpressionEngine = field(
        default_factory=lambda: ExpressionEngine(dict(BUILTIN_FUNCTIONS))
    )
    actions: Mapping[str, Mapping[str, Any]] = field(
        default_factory=lambda: BUILTIN_PARAMS, compare=False
    )
    """The actions automations may name, with the JSON Schema of their parameters."""


BUILTIN_TOOLKIT = Toolkit()
"""The built-in field types and expression functions only (no plugins loaded)."""
