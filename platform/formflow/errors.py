"""Every error Formflow raises on purpose, in one hierarchy.

Callers catch these rather than library exceptions, so each one carries what a person needs
to fix the problem: the place it happened and a message written for them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable


def N_(message: str) -> str:
    """Marks an English message for the interface catalogue and returns it unchanged.

    The engine speaks no language of its own and imports no Flask: it raises errors with an
    English message id and its parameters, and the web edge translates the id into the
    reader's language (see ``formflow.web.i18n.translate``).
    """
    return message


@runtime_checkable
class Localised(Protocol):
    """A parameter with text in several languages, such as a form's label."""

    def text(self, language: str = ...) -> str: ...


def render(template: str, params: Mapping[str, Any], language: str = "en") -> str:
    """``template`` filled in with ``params`` (labels in ``language``); a message without
    parameters is taken as it is, so text that merely contains "%" stays intact."""
    if not params:
        return template
    shown = {
        key: value.text(language) if isinstance(value, Localised) else value
        for key, value in params.items()
    }
    return template % shown


class FormflowError(Exception):
    """Base of all errors Formflow raises deliberately."""


@dataclass(frozen=True, order=True)
class FilePlace:
    """A place in a definition file, shown ``FILE:LINE:COL`` as editors and compilers do.

    ``line`` and ``column`` count from 1, as editors show them; 0 means "the whole file".
    """

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True, order=True)
class DefinitionError(FilePlace):
    """One problem in an app definition, at a place in a file."""

    message: str

    def __str__(self) -> str:
        return f"{super().__str__()}: {self.message}"


class DefinitionErrors(FormflowError):
    """Every problem found in an app definition, sorted by file and position."""

    def __init__(self, errors: Iterable[DefinitionError]) -> None:
        self.errors: tuple[DefinitionError, ...] = tuple(sorted(set(errors)))
        super().__init__("\n".join(str(error) for error in self.errors))

    def __iter__(self) -> Iterator[DefinitionError]:
        return iter(self.errors)

    def __len__(self) -> int:
        return len(self.errors)


class RecordError(FormflowError):
    """A request about records that cannot be carried out.

    ``code`` is stable: the API returns it, and clients may rely on it. The message is an
    English template (marked with :func:`N_`) filled in with ``params``, so the web edge can
    show it in the reader's language.
    """

    code = "record_error"

    def __init_subclass__(cls, *, code: str | None = None, **options: Any) -> None:
        """A subclass names its code with its bases: ``class X(RecordError, code="x")``."""
        super().__init_subclass__(**options)
        if code is not None:
            cls.code = code

    def __init__(self, message: str = "", /, **params: Any) -> None:
        self.template = message
        self.params = params
        super().__init__(render(message, params))


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one value.

    ``code`` is stable and ``params`` fill in ``template`` (an English message id), so the
    web layer can show the problem in the user's language; ``message`` is the English text.
    """

    code: str
    template: str
    params: tuple[tuple[str, Any], ...] = ()

    @property
    def message(self) -> str:
        return render(self.template, dict(self.params))

    def __str__(self) -> str:
        return self.message


class ValidationFailed(RecordError, code="validation_failed"):
    """Values that do not fit the form: every problem, by field path ("" for the record).

    A subtable row's field is addressed as ``items.2.qty``.
    """

    def __init__(self, problems: dict[str, list[Problem]]) -> None:
        self.problems = problems
        summary = "; ".join(
            f"{key or 'record'}: {', '.join(map(str, found))}" for key, found in problems.items()
        )
        super().__init__(summary)


class InSaveRuleFailed(ValidationFailed):
    """An automation that runs inside the save (``timing: in_save``) could not run: its
    expression failed, or a value it set does not fit. The save is refused as a whole,
    with the rule named, so the record is never written without the rule's values."""

    def __init__(self, rule_key: str, reason: str) -> None:
        self.rule_key = rule_key
        self.reason = reason
        problem = Problem(
            "automation_failed",
            N_("automation '%(rule)s' could not run: %(reason)s"),
            (("rule", rule_key), ("reason", reason)),
        )
        super().__init__({"": [problem]})


class DuplicateSuspected(ValidationFailed, code="duplicate_suspected"):
    """Values that match another record under a ``warn`` duplicate check: the write waits
    for the person to confirm (the API's ``?confirm_duplicates=1``, a form's "save
    anyway"). ``problems`` say, by field, which record matches and who holds it."""


class RecordInUse(RecordError, code="in_use"):
    """A record other records still refer to, where the link says they must not lose it."""


class PermissionDenied(RecordError, code="forbidden"):
    """Something the user's roles, or the record's place in their scope, do not allow."""


class RecordNotFound(RecordError, code="not_found"):
    """No such record, or one the user may not see (the two are not told apart)."""


class StaleRecord(RecordError, code="stale_record"):
    """The record changed since the user loaded it; their update would overwrite that change."""

    def __init__(self, record_id: int, expected: int, actual: int) -> None:
        self.record_id, self.expected, self.actual = record_id, expected, actual
        super().__init__(
            N_(
                "record %(id)s was changed by someone else (version %(actual)s, you edited version %(expected)s); reload it and apply your change again"
            ),
            id=record_id,
            actual=actual,
            expected=expected,
        )


class VetoedByPlugin(RecordError, code="vetoed"):
    """A plugin's before-hook refused the change, with its reason."""

    def __init__(self, plugin: str, message: str) -> None:
        self.plugin = plugin
        super().__init__(message)


class PluginFailed(RecordError, code="plugin_failed"):
    """A plugin raised while handling a record; the change was rolled back."""

    def __init__(self, plugin: str, hook: str, error: BaseException) -> None:
        self.plugin, self.hook = plugin, hook
        super().__init__(
            N_("plugin %(plugin)r failed in %(hook)s: %(error)s"),
            plugin=plugin,
            hook=hook,
            error=f"{error.__class__.__name__}: {error}",
        )


class QueryError(RecordError, code="invalid_query"):
    """A filter, sort or aggregate that does not fit the form; ``field`` names the part of
    the query at fault, for the client, and fills the message's ``%(field)s``."""

    def __init__(self, message: str, /, field: str | None = None, **params: Any) -> None:
        self.field = field
        super().__init__(message, **({"field": field} if field is not None else {}), **params)


class MigrationRefused(FormflowError):
    """A definition change that existing data cannot survive, with the ways forward."""


class MigrationFailed(FormflowError):
    """A step of a migration failed as it ran; its transaction was rolled back whole."""
