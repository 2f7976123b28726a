"""What a new password must be: long enough, not guessable, and not one used lately.

Guessable means what password-guessing lists try first, recognised by pattern rather than
by shipping a leaked list: one repeated character, a run along the keyboard or the alphabet
(``123456``, ``qwerty``, ``abcdef``), the username, or a common word or phrase, English or
pinyin, dressed up the usual ways (capitals, ``@`` for ``a``, ``0`` for ``o``, digits or a
year and ``!`` added at the end: ``P@ssw0rd2024!``). The words are Formflow's own short
list of the bases such lists are built from.

The last :attr:`PasswordPolicy.history` passwords of each user are kept (as the same
one-way hashes as the password itself) so a change cannot go back to one of them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, delete, insert, select
from werkzeug.security import check_password_hash

from formflow.accounts.errors import AccountError
from formflow.config import Settings
from formflow.errors import N_
from formflow.storage.platform_tables import password_history


@dataclass(frozen=True)
class PasswordPolicy:
    """An instance's rules for new passwords (``FORMFLOW_PASSWORD_MIN_LENGTH`` and
    ``FORMFLOW_PASSWORD_HISTORY``)."""

    min_length: int = 8
    history: int = 5
    """Earlier passwords a new one may not repeat (0: no check)."""

    @classmethod
    def of(cls, settings: Settings) -> PasswordPolicy:
        return cls(settings.password_min_length, settings.password_history)


class WeakPassword(AccountError):
    """A new password the policy refuses; ``template`` and ``params`` say why."""

    def __init__(self, template: str, **params: object) -> None:
        self.template = template
        self.params = params
        super().__init__(template % params if params else template)


def check_new_password(
    connection: Connection,
    user_id: int | None,
    password: str,
    username: str,
    policy: PasswordPolicy,
) -> None:
    """Raise :class:`WeakPassword` unless ``password`` may be ``username``'s new one."""
    found = weakness(password, username, policy)
    if found is not None:
        raise WeakPassword(found, min=policy.min_length)
    if user_id is not None and reuses_recent(connection, user_id, password, policy):
        raise WeakPassword(
            N_("This is one of your last %(count)d passwords; choose a new one."),
            count=policy.history,
        )


DEFAULT_POLICY = PasswordPolicy()

_COMMON = frozenset(
    [
        "password",
        "passwd",
        "pass",
        "admin",
        "administrator",
        "root",
        "user",
        "login",
        "welcome",
        "letmein",
        "hello",
        "iloveyou",
        "love",
        "secret",
        "master",
        "monkey",
        "dragon",
        "shadow",
        "sunshine",
        "princess",
        "football",
        "baseball",
        "soccer",
        "superman",
        "batman",
        "trustno1",
        "whatever",
        "freedom",
        "starwars",
        "computer",
        "internet",
        "changeme",
        "default",
        "guest",
        "test",
        "temp",
        "qwerty",
        "azerty",
        "asdf",
        "zxcv",
        "abc",
        "abcd",
        "abcde",
        "test1234",
        "formflow",
        "company",
        "office",
        "manager",
        "sales",
        "china",
        "beijing",
        "shanghai",
        "woaini",
        "woaiwojia",
        "aini",
        "wodemima",
        "mima",
        "zhangwei",
        "wangwei",
        "liwei",
    ]
)
_COMMON_NUMBERS = ("5201314", "1314520", "520520", "147258369", "159357", "123123", "112233")
_ROWS = (
    "1234567890",
    "qwertyuiop",
    "asdfghjkl",
    "zxcvbnm",
    "abcdefghijklmnopqrstuvwxyz",
    "1qaz2wsx3edc",
)
_LEET = str.maketrans(
    {"@": "a", "4": "a", "0": "o", "1": "i", "!": "i", "3": "e", "$": "s", "5": "s", "7": "t"}
)
_DRESSING = re.compile(r"^[^a-z0-9]*(.*?)[^a-z]*$")


def weakness(
    password: str, username: str = "", policy: PasswordPolicy = DEFAULT_POLICY
) -> str | None:
    """Why ``password`` will not do, as a message template (``%(min)d`` filled from the
    policy), or ``None`` if it is fine. Checks only the password itself; see
    :func:`reuses_recent` for the history."""
    if len(password) < policy.min_length:
        return N_("A password needs at least %(min)d characters.")
    lowered = password.lower()
    if len(set(lowered)) <= 2:
        return N_("This password repeats too few characters.")
    if _is_run(lowered):
        return N_("This password is a run of keys or letters, which is guessed first.")
    if username and len(username) >= 3 and username.lower() in lowered:
        return N_("The password must not contain the username.")
    if _is_common(lowered):
        return N_("This password is common, or a common word dressed up; choose another.")
    return None


def reuses_recent(
    connection: Connection, user_id: int, password: str, policy: PasswordPolicy = DEFAULT_POLICY
) -> bool:
    """Whether ``password`` is one of the user's last ``policy.history`` passwords."""
    if policy.history <= 0:
        return False
    hashes = connection.execute(
        select(password_history.c.password_hash)
        .where(password_history.c.user_id == user_id)
        .order_by(password_history.c.id.desc())
        .limit(policy.history)
    ).scalars()
    return any(check_password_hash(stored, password) for stored in hashes)


def remember(
    connection: Connection,
    user_id: int,
    password_hash: str,
    policy: PasswordPolicy = DEFAULT_POLICY,
) -> None:
    """Keep ``password_hash`` among the user's recent passwords, dropping older ones."""
    connection.execute(
        insert(password_history).values(
            user_id=user_id, password_hash=password_hash, set_at=datetime.now(UTC)
        )
    )
    keep = connection.execute(
        select(password_history.c.id)
        .where(password_history.c.user_id == user_id)
        .order_by(password_history.c.id.desc())
        .limit(max(policy.history, 1))
    ).scalars()
    connection.execute(
        delete(password_history).where(
            password_history.c.user_id == user_id, password_history.c.id.not_in(list(keep))
        )
    )


def _is_run(lowered: str) -> bool:
    """All of it along one keyboard row or the alphabet, either way (``654321`` too)."""
    return any(lowered in row or lowered in row[::-1] for row in _ROWS)


def _is_common(lowered: str) -> bool:
    core = _strip(lowered)
    words = {lowered, lowered.translate(_LEET), core, core.translate(_LEET)}
    if words & _COMMON:
        return True
    if len(core) >= 4 and (_is_run(core) or _is_run(core.translate(_LEET))):
        return True
    return (
        lowered.isascii()
        and lowered.isdigit()
        and any(number in lowered for number in _COMMON_NUMBERS)
    )


def _strip(text: str) -> str:
    """The word under the usual dressing: symbols around it and digits after it."""
    match = _DRESSING.match(text)
    return match[1] if match else text
