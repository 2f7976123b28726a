"""The errors of account requests, apart so every accounts module can raise them."""

from __future__ import annotations

from formflow.errors import FormflowError


class AccountError(FormflowError):
    """A user or department request that cannot be carried out."""
