"""Companies as a registry describes them, and why a lookup can fail.

Every failure is a :class:`LookupFailed` whose message says what happened and what to do,
so the lookup page and an automation's run log can show it as it is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from formflow.errors import FormflowError

CREDIT_CODE = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$")
"""A unified social credit code (统一社会信用代码): 18 characters, no I, O, S, V or Z."""


class LookupFailed(FormflowError):
    """A lookup that gave no company; the message is for the person who asked."""


class NotFound(LookupFailed):
    """The registry knows no company by that name or code."""


class Ambiguous(LookupFailed):
    """Several companies match; someone must pick one."""

    def __init__(self, message: str, candidates: list[Company]) -> None:
        super().__init__(message)
        self.candidates = candidates


class ProviderTimeout(LookupFailed):
    """The registry did not answer in time."""


class ProviderUnavailable(LookupFailed):
    """The registry refused or failed the request."""


class BadAnswer(LookupFailed):
    """The registry answered with something that is not a list of companies."""


class AddressRefused(LookupFailed):
    """The registry's address is private or loopback, and settings do not allow it."""


@dataclass(frozen=True)
class Company:
    """One company; ``established`` is an ISO date, ``registered_capital`` as written."""

    name: str
    credit_code: str
    legal_representative: str = ""
    registered_capital: str = ""
    established: str = ""
    address: str = ""
    business_scope: str = ""
    status: str = ""

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Company:
        """A company from a registry's JSON object; :class:`BadAnswer` if it is not one."""
        if not isinstance(data, Mapping):
            raise BadAnswer(f"the registry gave {type(data).__name__}, not a company")
        values: dict[str, str] = {}
        for item in fields(cls):
            value = data.get(item.name, "")
            if value is None:
                value = ""
            if not isinstance(value, str | int | float):
                raise BadAnswer(f"the registry gave {item.name} as {type(value).__name__}")
            values[item.name] = str(value).strip()
        if not values["name"] or not values["credit_code"]:
            raise BadAnswer("the registry gave a company without a name or credit code")
        return cls(**values)

    def as_dict(self) -> dict[str, str]:
        return {item.name: getattr(self, item.name) for item in fields(self)}


ATTRIBUTES = tuple(item.name for item in fields(Company))
"""What a lookup can fill in, in the order the settings page and the docs list them."""


def is_credit_code(query: str) -> bool:
    return bool(CREDIT_CODE.match(query.strip().upper()))


def pick(query: str, found: list[Company]) -> Company:
    """The one company ``query`` means: the only one found, or the one whose name or code
    is exactly the query; :class:`Ambiguous` when several remain, :class:`NotFound` for none."""
    if not found:
        raise NotFound(f"no company found for {query!r}; check the name or code")
    wanted = query.strip().upper()
    exact = [c for c in found if c.credit_code == wanted or c.name == query.strip()]
    if len(exact) == 1:
        return exact[0]
    if len(found) == 1:
        return found[0]
    names = ", ".join(c.name for c in found[:5])
    raise Ambiguous(f"{len(found)} companies match {query!r} ({names}); choose one", found)
