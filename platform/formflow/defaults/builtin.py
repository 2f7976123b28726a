"""The built-in plugin, ``formflow.builtin``: the field types, actions and expression
functions Formflow brings, each hook implemented in the module that owns its idea."""

from __future__ import annotations

from formflow.defaults.actions import formflow_actions
from formflow.defaults.field_types import formflow_field_types
from formflow.defaults.functions import formflow_expression_functions

__all__ = ["formflow_actions", "formflow_expression_functions", "formflow_field_types"]
