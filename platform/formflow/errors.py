"""Every error Formflow raises on purpose, in one hierarchy.

Callers catch these rather than library exceptions, so each one carries what a person needs
to fix the problem: the place it happened and a message written for them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass


class FormflowError(Exception):
    """Base of all errors Formflow raises deliberately."""


@dataclass(frozen=True, order=True)
class DefinitionError:
    """One problem in an app definition, at a place in a file.

    ``line`` and ``column`` count from 1, as editors show them; 0 means "the whole file".
    """

    file: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"


class DefinitionErrors(FormflowError):
    """Every problem found in an app definition, sorted by file and position."""

    def __init__(self, errors: Iterable[DefinitionError]) -> None:
        self.errors: tuple[DefinitionError, ...] = tuple(sorted(set(errors)))
        super().__init__("\n".join(str(error) for error in self.errors))

    def __iter__(self) -> Iterator[DefinitionError]:
        return iter(self.errors)

    def __len__(self) -> int:
        return len(self.errors)
