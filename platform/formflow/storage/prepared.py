"""Statements a write sends every time, compiled once per database and sent as its own SQL.

SQLAlchemy's Core, for each execution of a statement it has already compiled and cached,
works out the statement's cache key, looks the compiled form up, builds its parameters
and sets up a result: for a small insert on SQLite about twice the CPU the driver and
SQLite take to run it (23 against 9 µs a statement, measured 2026-12-05). An API create
sends a dozen such statements. The ones every write sends (the kept-back rows, the audit
chain's head on SQLite, the summaries' upsert, the stage stay) are compiled here once per
dialect and sent with ``exec_driver_sql``: still statements of SQLAlchemy's connection,
transaction and events (``before_cursor_execute`` counts them), with their parameters in
the compiled order and each one passed through its type's bind processor, as Core does.

A statement is sent the Core way instead when compiling it leaves work to execution time:
a column default computed in Python, a parameter expanded at execution (``IN``), or a
bound parameter the caller must give and did not. Results are the driver's rows, with no
type processing: only for statements whose results are not read, or read as plain
numbers and text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, CursorResult, Insert, Table, insert
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement, Executable
from sqlalchemy.sql.compiler import SQLCompiler

Parameters = Mapping[str, Any]


@dataclass(frozen=True)
class _Slot:
    """One bound parameter of the compiled SQL: where its value comes from."""

    key: str
    """The caller's key for it."""
    sent_as: str
    """Its name in the SQL (named paramstyles), which may be escaped."""
    process: Callable[[Any], Any] | None
    default: Any
    given: bool
    """Whether the caller must give it (a required parameter); else ``default`` stands in."""


@dataclass(frozen=True)
class _Compiled:
    sql: str
    slots: tuple[_Slot, ...]
    positional: bool

    def __post_init__(self) -> None:
        # what :meth:`bound` walks, worked out once: it runs for every row sent
        required = [(index, slot.key) for index, slot in enumerate(self.slots) if slot.given]
        optional = [
            (index, slot.key, slot.default)
            for index, slot in enumerate(self.slots)
            if not slot.given
        ]
        processed = [
            (index, slot.process)
            for index, slot in enumerate(self.slots)
            if slot.process is not None
        ]
        object.__setattr__(self, "_required", required)
        object.__setattr__(self, "_optional", optional)
        object.__setattr__(self, "_processed", processed)
        object.__setattr__(self, "_names", [slot.sent_as for slot in self.slots])

    def bound(self, parameters: Parameters) -> Any:
        """``parameters`` as the driver takes them for this SQL."""
        values: list[Any] = [None] * len(self.slots)
        for index, key in self._required:
            values[index] = parameters[key]
        for index, key, default in self._optional:
            values[index] = parameters.get(key, default)
        for index, process in self._processed:
            if values[index] is not None:
                values[index] = process(values[index])
        if self.positional:
            return tuple(values)
        return dict(zip(self._names, values, strict=True))

    _required: list[tuple[int, str]] = field(init=False, repr=False, compare=False)
    _optional: list[tuple[int, str, Any]] = field(init=False, repr=False, compare=False)
    _processed: list[tuple[int, Callable[[Any], Any]]] = field(
        init=False, repr=False, compare=False
    )
    _names: list[str] = field(init=False, repr=False, compare=False)


class Prepared:
    """``statement`` compiled once per dialect (and per set of keys, for an insert of the
    columns given: ``keyed``, the default for an insert) and sent as driver SQL: :meth:`run`
    takes what ``connection.execute`` would."""

    def __init__(self, statement: Executable, *, keyed: bool | None = None) -> None:
        self.statement = statement
        self.keyed = isinstance(statement, Insert) if keyed is None else keyed
        self._compiled: dict[tuple[str, tuple[str, ...]], _Compiled | None] = {}

    def run(
        self, connection: Connection, parameters: Parameters | Sequence[Parameters]
    ) -> CursorResult[Any]:
        """Execute with ``parameters`` (a mapping, or a list of mappings with the same keys:
        ``executemany``) on ``connection``, in its transaction."""
        first = parameters if isinstance(parameters, Mapping) else parameters[0]
        keys = tuple(first) if self.keyed else ()
        shape = (connection.dialect.name, keys)
        try:
            found = self._compiled[shape]
        except KeyError:
            found = self._compiled[shape] = _compile(self.statement, connection.dialect, keys)
        if found is None:
            return connection.execute(self.statement, parameters)
        if isinstance(parameters, Mapping):
            return connection.exec_driver_sql(found.sql, found.bound(parameters))
        return connection.exec_driver_sql(found.sql, [found.bound(row) for row in parameters])


def _compile(statement: Executable, dialect: Dialect, keys: tuple[str, ...]) -> _Compiled | None:
    """``statement`` compiled for ``dialect``, or None when Core must execute it."""
    assert isinstance(statement, ClauseElement)
    compiled = statement.compile(dialect=dialect, column_keys=list(keys) if keys else None)
    assert isinstance(compiled, SQLCompiler)
    if (
        compiled.insert_prefetch
        or compiled.update_prefetch
        or compiled.literal_execute_params
        or compiled.post_compile_params
        or compiled.has_out_parameters
    ):
        return None
    positional = bool(dialect.positional)
    names = compiled.positiontup if positional else list(compiled.bind_names.values())
    if names is None:
        return None
    by_name = {name: bind for bind, name in compiled.bind_names.items()}
    escaped: Mapping[str, str] = compiled.escaped_bind_names or {}
    slots = {}
    for name in names:
        bind = by_name[name]
        process = bind.type.dialect_impl(dialect).bind_processor(dialect)
        sent_as = escaped.get(name, name)
        slots[name] = _Slot(name, sent_as, process, bind.effective_value, bind.required)
    return _Compiled(compiled.string, tuple(slots[name] for name in names), positional)


_INSERTS: dict[Table, Prepared] = {}


def insert_into(table: Table) -> Prepared:
    """The plain insert of ``table``, prepared once per process."""
    found = _INSERTS.get(table)
    if found is None:
        found = _INSERTS[table] = Prepared(insert(table))
    return found
