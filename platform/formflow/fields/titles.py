"""What the field types are called on screen, where an administrator picks one."""

from __future__ import annotations

from formflow.errors import N_

ADDABLE: tuple[tuple[str, str], ...] = (
    ("text", N_("Text")),
    ("textarea", N_("Long text")),
    ("number", N_("Number")),
    ("money", N_("Money")),
    ("percent", N_("Percent")),
    ("date", N_("Date")),
    ("datetime", N_("Date and time")),
    ("bool", N_("Yes/no")),
    ("select", N_("Choice")),
    ("multiselect", N_("Multiple choice")),
    ("user", N_("User")),
    ("department", N_("Department")),
    ("phone", N_("Phone")),
    ("email", N_("Email")),
    ("url", N_("Web address")),
)
"""The types the designer's "Add a field" offers, each with its name as a message id: the
type key alone read as code to people working in Chinese. The other types (links, formulas,
subtables ...) need settings that quick form does not ask for."""
