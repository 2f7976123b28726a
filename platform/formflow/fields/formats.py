"""Named text formats whose check digits a regular expression cannot check: a text field's
``format:`` names one, and a value that fails it is refused like a pattern mismatch.

Each is checked by python-stdnum, which keeps the national algorithms (GB 32100-2015 for
the unified social credit code, GB 11643 for resident identity numbers, ISO 13616 for
IBANs) so the engine need not.
"""

from __future__ import annotations

from collections.abc import Callable

from stdnum import iban, isbn
from stdnum.cn import ric, uscc

TEXT_FORMATS: dict[str, Callable[[str], bool]] = {
    "cn_uscc": uscc.is_valid,
    "cn_ric": ric.is_valid,
    "iban": iban.is_valid,
    "isbn": isbn.is_valid,
}
"""Each format's name and whether a value is well formed, check digit included."""


def well_formed(name: str, text: str) -> bool:
    """Whether ``text`` is a valid value of the format ``name`` (a key of TEXT_FORMATS)."""
    return TEXT_FORMATS[name](text)
