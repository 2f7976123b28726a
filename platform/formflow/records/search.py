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
from collections.abc import Iterable

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

from formflow.errors import QueryError
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
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return unicodedata.normalize("NFC", bare).casefold()


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
            f"form '{form_key}' has no search fields; list some under list.search in its definition"
        )
    if len(text) > MAX_SEARCH_LENGTH:
        raise QueryError(f"search text is too long: at most {MAX_SEARCH_LENGTH} characters")
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


def ensure_search_index(connection: Connection, schema: AppSchema, form_key: str) -> None:
    """Create what ``form_key``'s search needs, if missing; safe to call after every migration.

    SQLite: an FTS5 table ``<table>_fts`` with ``_search`` as external content, kept in
    step by triggers (sqlite-utils' ``enable_fts``; it is rebuilt if a migration dropped the
    triggers with the table). PostgreSQL: a GIN index on ``to_tsvector('simple', _search)``.
    Forms without search fields need nothing.
    """
    table = schema.table(form_key)
    if SEARCH not in table.c:
        return
    if connection.dialect.name == "sqlite":
        _ensure_fts5(connection, table.name)
    else:
        _ensure_gin(connection, table.name)


def _ensure_fts5(connection: Connection, table_name: str) -> None:
    """sqlite-utils' FTS5 table and triggers, joined to the caller's transaction.

    sqlite-utils runs its statements one by one inside an open transaction (rather than
    ``executescript``, which would commit it), so one is begun first.
    """
    connection.execute(sql_text("SELECT 1"))
    database = Database(
        connection.connection.dbapi_connection,  # type: ignore[arg-type]
        recursive_triggers=False,  # a connection setting that would outlive this call
        execute_plugins=False,
    )
    database.table(table_name).enable_fts(
        [SEARCH], create_triggers=True, tokenize=FTS_TOKENIZER, replace=True
    )


def _ensure_gin(connection: Connection, table_name: str) -> None:
    quote = connection.dialect.identifier_preparer.quote
    index = quote(identifier("ix", table_name, "search"))
    connection.execute(
        sql_text(
            f"CREATE INDEX IF NOT EXISTS {index} ON {quote(table_name)} "
            f"USING gin (to_tsvector('simple', {quote(SEARCH)}))"
        )
    )
