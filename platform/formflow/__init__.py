"""Formflow: a low-code platform whose engine interprets YAML app definitions.

The public surface is kept small on purpose: the version, and the error classes that
callers are expected to catch.
"""

from formflow.errors import DefinitionError, DefinitionErrors, FormflowError
from formflow.hookspecs import Veto, hookimpl

__version__ = "0.1.0"

__all__ = [
    "DefinitionError",
    "DefinitionErrors",
    "FormflowError",
    "Veto",
    "__version__",
    "hookimpl",
]
