"""Formflow's own behaviour, registered as plugins like any other.

Each module here is a plugin whose implementations are marked ``trylast``, so outside
plugins run before them; where answers conflict (a field type name, say), the loader says
which plugin clashed. :data:`PLUGINS` names them as ``formflow plugins`` shows them.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import ModuleType

from formflow.defaults import builtin

PLUGINS: Mapping[str, ModuleType] = {"formflow.builtin": builtin}
"""The built-in plugins by the name they are registered under, in registration order."""
