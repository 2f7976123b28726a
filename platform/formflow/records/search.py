"""Full-text search that works for Chinese, which has no spaces, as well as for English.

Neither SQLite's nor PostgreSQL's word splitters find words in Chinese text, and neither
database ships a Chinese dictionary. So Formflow tokenises text itself, the same way on
both databases, and stores the tokens, space-separated, in each row's ``_search`` column:
Latin and digit words stay words; a run of CJK characters becomes its overlapping bigrams
plus its single characters, so 华为技术 is found by 华为, 技术, 为技 and 华. The database then
only has to index space-separated tokens: SQLite through an FTS5 table over ``_search``,
PostgreSQL through a GIN index on ``to_tsvector('simple', _search)``.

A search is tokenised the same way and matches rows holding ALL its tokens, the last Latin
word as a prefix (so "hua" finds "Huawei" while the person is still typing). The tokens are
letters and digits only, and each is quoted for the query language besides, so quotes,
operators (AND, OR, NEAR, ``*``, ``:``, ``-``) or SQL in the search text are only ever
searched for, never obeyed.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Connection,
    column,
    func,
    literal_column,
    select,
)
from sqlalchemy import table as sql_table
from sqlalchemy import text as sql_text
from sqlite_utils import Database

from formflow.definitions.model import Form
from formflow.errors import N_, QueryError
from formflow.records.filters import DialectSwitch
from formflow.storage.tables import SEARCH, AppSchema, identifier

MAX_SEARCH_LENGTH = 200
FTS_TOKENIZER = "unicode61"

_CJK = (
    "\u2e80-\u2fdf\u3040-\u30ff\u3100-\u312f\u31a0-\u31ff\u3400-\u4dbf\u4e00-\u9fff"
    "\uac00-\ud7af\uf900-\ufaff\U00020000-\U0003134f"
)
_TOKEN = re.compile(rf"(?P<cjk>[{_CJK}]+)|(?P<word>(?:(?![{_CJK}])[^\W_])+)")
_SIMPLE: ColumnElement[str] = literal_column("'simple'")


def normalise(value: str) -> str:
    """Full-width forms folded (Ａ１ → a1), accents dropped (é → e), case folded."""
    decomposed = unicodedata.normalize("NFD", unicodedata.normalize("NFKC", value))
    if any(map(unicodedata.combining, decomposed)):  # asked in C: most text has no accent
        decomposed = "".join(char for char in decomposed if not unicodedata.combining(char))
    return unicodedata.normalize("NFC", decomposed).casefold()


def search_document(values: Iterable[str | None]) -> str:
    """The text to store in a row's ``_search`` column for these field values."""
    tokens: dict[str, None] = {}
    for value in values:
        if not value:
            continue
        for match in _TOKEN.finditer(normalise(value)):
            if match["word"]:
                tokens[match["word"]] = None
            else:
                run = match["cjk"]
                tokens.update(dict.fromkeys(_bigrams(run)))
                tokens.update(dict.fromkeys(run))
    return " ".join(tokens)


def search_tokens(text: str) -> tuple[list[str], bool]:
    """The tokens a search must all match, and whether the last is a Latin word (a prefix).

    A run of several CJK characters needs only its bigrams: each single character is in
    one of them.
    """
    tokens: dict[str, None] = {}
    last_is_word = False
    for match in _TOKEN.finditer(normalise(text)):
        run = match["cjk"]
        found = [match["word"]] if match["word"] else (_bigrams(run) if len(run) > 1 else [run])
        for token in found:
            tokens.pop(token, None)
            tokens[token] = None
        last_is_word = bool(match["word"])
    return list(tokens), last_is_word


def _bigrams(run: str) -> list[str]:
    return [run[index : index + 2] for index in range(len(run) - 1)]


def search_condition(schema: AppSchema, form_key: str, text: str) -> ColumnElement[bool] | None:
    """Rows of ``form_key`` whose search fields hold every token of ``text``.

    ``None`` when the text has no letters or digits, so an empty search lists everything.
    """
    table = schema.table(form_key)
    if SEARCH not in table.c:
        raise QueryError(
            N_(
                "form '%(form)s' has no search fields; "
                "list some under list.search in its definition"
            ),
            field="search",
            form=form_key,
        )
    if len(text) > MAX_SEARCH_LENGTH:
        raise QueryError(
            N_("search text is too long: at most %(limit)s characters"),
            field="search",
            limit=MAX_SEARCH_LENGTH,
        )
    tokens, prefix = search_tokens(text)
    if not tokens:
        return None
    fts = sql_table(f"{table.name}_fts", column("rowid"), column(SEARCH))
    matching = select(fts.c.rowid).where(fts.c[SEARCH].match(_fts5_query(tokens, prefix)))
    tsvector = func.to_tsvector(_SIMPLE, table.c[SEARCH])
    tsquery = func.to_tsquery(_SIMPLE, _tsquery(tokens, prefix))
    return DialectSwitch(
        Boolean(),
        sqlite=table.c.id.in_(matching),
        postgresql=tsvector.bool_op("@@")(tsquery),
    )


def _fts5_query(tokens: list[str], prefix: bool) -> str:
    """An FTS5 query: every token a quoted string, implicitly AND-ed."""
    quoted = ['"' + token.replace('"', '""') + '"' for token in tokens]
    if prefix:
        quoted[-1] += "*"
    return " ".join(quoted)


def _tsquery(tokens: list[str], prefix: bool) -> str:
    """A tsquery: every token a quoted lexeme, AND-ed."""
    quoted = ["'" + token.replace("\\", "\\\\").replace("'", "''") + "'" for token in tokens]
    if prefix:
        quoted[-1] += ":*"
    return " & ".join(quoted)


def search_text(form: Form, values: Mapping[str, Any]) -> str:
    """The search text of a row of ``form`` holding ``values``: what its ``_search`` stores."""
    return search_document(
        str(values[key]) if values.get(key) is not None else None for key in form.list_view.search
    )


def ensure_search_index(connection: Connection, schema: AppSchema, form_key: str) -> None:
    """Create what ``form_key``'s search needs, if missing (a migration plans this step
    itself; see ``storage.search_steps``). Forms without search fields need nothing."""
    table = schema.table(form_key)
    if SEARCH in table.c:
        create_search_index(connection, table.name)


def search_index_name(table_name: str, *, sqlite: bool) -> str:
    """The name of a table's search index: on SQLite its FTS5 table, on PostgreSQL its
    GIN index."""
    return f"{table_name}_fts" if sqlite else identifier("ix", table_name, "search")


def has_search_index(connection: Connection, table_name: str) -> bool:
    """Whether the table's search index is complete: on SQLite the FTS5 table and the three
    triggers that keep it in step, on PostgreSQL the GIN index."""
    if connection.dialect.name == "sqlite":
        names = [f"{table_name}{suffix}" for suffix in ("_fts", "_ai", "_ad", "_au")]
        query = "SELECT count(*) FROM sqlite_master WHERE name IN (:a, :b, :c, :d)"
        found = connection.execute(sql_text(query), dict(zip("abcd", names, strict=True)))
        return int(found.scalar_one()) == len(names)
    query = "SELECT count(*) FROM pg_indexes WHERE schemaname = current_schema() AND indexname = :n"
    found = connection.execute(sql_text(query), {"n": search_index_name(table_name, sqlite=False)})
    return int(found.scalar_one()) == 1


def search_index_current(connection: Connection, table_name: str) -> bool:
    """Whether the table's search index is complete and kept as this version keeps it: on
    SQLite, its update trigger fires only when the search text changes (an index made
    before does on every update; creating the index again replaces the trigger alone)."""
    if not has_search_index(connection, table_name):
        return False
    if connection.dialect.name != "sqlite":
        return True
    query = "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = :n"
    found = connection.execute(sql_text(query), {"n": f"{table_name}_au"}).scalar_one()
    return f'AFTER UPDATE OF "{SEARCH}"' in str(found)


def create_search_index(connection: Connection, table_name: str) -> None:
    """Create the table's search index, or complete it, inside the caller's transaction.

    SQLite: an FTS5 table ``<table>_fts`` with ``_search`` as external content, filled from
    the rows and kept in step by triggers (sqlite-utils' ``enable_fts``; rebuilt whole if
    a table rebuild dropped the triggers). PostgreSQL: a GIN index on
    ``to_tsvector('simple', _search)``.
    """
    if connection.dialect.name == "sqlite":
        _sqlite_utils(connection).table(table_name).enable_fts(
            [SEARCH], create_triggers=True, tokenize=FTS_TOKENIZER, replace=True
        )
        _update_only_changed_text(connection, table_name)
        return
    quote = connection.dialect.identifier_preparer.quote
    index = quote(search_index_name(table_name, sqlite=False))
    connection.execute(
        sql_text(
            f"CREATE INDEX IF NOT EXISTS {index} ON {quote(table_name)} "
            f"USING gin (to_tsvector('simple', {quote(SEARCH)}))"
        )
    )


def _update_only_changed_text(connection: Connection, table_name: str) -> None:
    """Make the FTS5 table's update trigger (sqlite-utils' ``<table>_au``) fire only when
    a row's search text changes: as created it removes and re-adds the row's tokens on
    every update, whatever it changes, which at a million rows costs more than the rest
    of the update (0.4 ms of a row's 0.42 on the sweep benchmark's table)."""
    # always quoted, as sqlite-utils quotes them: its disable_fts finds the triggers to
    # drop by ' INSERT INTO "<table>_fts"' in their text
    table, fts, trigger, column = (
        '"' + name.replace('"', '""') + '"'
        for name in (table_name, f"{table_name}_fts", f"{table_name}_au", SEARCH)
    )
    connection.execute(sql_text(f"DROP TRIGGER IF EXISTS {trigger}"))
    connection.execute(
        sql_text(
            f"CREATE TRIGGER {trigger} AFTER UPDATE OF {column} ON {table}"
            f" WHEN old.{column} IS NOT new.{column} BEGIN"
            f" INSERT INTO {fts} ({fts}, rowid, {column})"
            f" VALUES ('delete', old.rowid, old.{column});"
            f" INSERT INTO {fts} (rowid, {column}) VALUES (new.rowid, new.{column});"
            " END"
        )
    )


def drop_search_index(connection: Connection, table_name: str) -> None:
    """Drop the table's search index (the FTS5 table and its triggers on SQLite), if any,
    inside the caller's transaction. The rows' ``_search`` text stays."""
    if connection.dialect.name == "sqlite":
        _sqlite_utils(connection).table(table_name).disable_fts()
        return
    quote = connection.dialect.identifier_preparer.quote
    connection.execute(
        sql_text(f"DROP INDEX IF EXISTS {quote(search_index_name(table_name, sqlite=False))}")
    )


def _sqlite_utils(connection: Connection) -> Database:
    """sqlite-utils over the caller's connection, joined to its transaction.

    sqlite-utils runs its statements one by one inside an open transaction (rather than
    ``executescript``, which would commit it), so one is begun first.
    """
    connection.execute(sql_text("SELECT 1"))
    return Database(
        connection.connection.dbapi_connection,  # type: ignore[arg-type]
        recursive_triggers=False,  # a connection setting that would outlive this call
        execute_plugins=False,
    )
