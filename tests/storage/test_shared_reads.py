"""Reads of one block (a web request) share one connection and transaction."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Column, Engine, Integer, MetaData, Table, event, insert, select, text
from sqlalchemy.exc import DBAPIError

from formflow.storage.database import (
    connect,
    one_statement_read,
    read_transaction,
    shared_reads,
    write_transaction,
)

metadata = MetaData()
numbers = Table("numbers", metadata, Column("n", Integer, primary_key=True))


@pytest.fixture
def db(engine: Engine) -> Engine:
    metadata.create_all(engine)
    return engine


def begins(engine: Engine) -> list[object]:
    started: list[object] = []
    event.listen(engine, "begin", started.append)
    return started


def count(engine: Engine) -> int:
    with read_transaction(engine) as connection:
        return len(connection.execute(select(numbers.c.n)).all())


def test_reads_in_a_block_share_one_transaction(db: Engine) -> None:
    started = begins(db)
    with shared_reads(db):
        for _ in range(3):
            count(db)
    assert len(started) == 1


def test_reads_outside_a_block_each_have_their_own(db: Engine) -> None:
    started = begins(db)
    for _ in range(3):
        count(db)
    assert len(started) == 3


def test_a_block_that_reads_nothing_takes_no_connection(db: Engine) -> None:
    started = begins(db)
    with shared_reads(db):
        pass
    assert started == []


def test_a_read_after_a_write_in_the_block_sees_the_write(db: Engine) -> None:
    with shared_reads(db):
        assert count(db) == 0
        with write_transaction(db) as connection:
            connection.execute(insert(numbers).values(n=1))
        assert count(db) == 1


def test_a_write_inside_a_read_leaves_that_read_its_connection(db: Engine) -> None:
    with shared_reads(db):
        with read_transaction(db) as reading:
            with write_transaction(db) as connection:
                connection.execute(insert(numbers).values(n=1))
            assert not reading.closed
            reading.execute(select(numbers.c.n)).all()
        assert count(db) == 1


def test_a_failed_read_does_not_spoil_the_reads_after_it(db: Engine) -> None:
    with shared_reads(db):
        with pytest.raises(DBAPIError), read_transaction(db) as connection:
            connection.execute(text("SELECT * FROM no_such_table"))
        assert count(db) == 0


def test_blocks_on_other_engines_are_not_shared(db: Engine, tmp_path: Path) -> None:
    other = connect(f"sqlite:///{tmp_path}/other.db")
    metadata.create_all(other)
    started = begins(other)
    with shared_reads(db):
        count(other)
        count(other)
    other.dispose()
    assert len(started) == 2


def test_a_write_after_reads_takes_over_their_connection(db: Engine) -> None:
    checkouts: list[object] = []

    def checkout(*_args: object) -> None:
        checkouts.append(_args)

    event.listen(db, "checkout", checkout)
    with shared_reads(db):
        count(db)
        with write_transaction(db) as connection:
            connection.execute(insert(numbers).values(n=1))
    event.remove(db, "checkout", checkout)
    assert len(checkouts) == 1


def write_then_fail(db: Engine) -> None:
    with write_transaction(db) as connection:
        connection.execute(insert(numbers).values(n=1))
        raise RuntimeError("refused")


def test_a_failed_write_after_reads_writes_nothing(db: Engine) -> None:
    with shared_reads(db):
        count(db)
        with pytest.raises(RuntimeError):
            write_then_fail(db)
        assert count(db) == 0
    assert count(db) == 0


def endings(engine: Engine) -> list[str]:
    seen: list[str] = []
    event.listen(engine, "commit", lambda _connection: seen.append("commit"))
    event.listen(engine, "rollback", lambda _connection: seen.append("rollback"))
    return seen


def test_a_block_whose_reads_went_well_commits(db: Engine) -> None:
    seen = endings(db)
    with shared_reads(db):
        count(db)
    assert seen == ["commit"]


def test_a_block_whose_read_failed_rolls_back(db: Engine) -> None:
    seen = endings(db)
    with shared_reads(db), pytest.raises(DBAPIError), read_transaction(db) as connection:
        connection.execute(text("SELECT * FROM no_such_table"))
    assert seen == ["rollback"]


def test_statements_stay_prepared_from_block_to_block(db: Engine) -> None:
    """psycopg prepares a statement run five times on a connection, and forgets them all
    at a ROLLBACK: blocks that ended so never reused a plan."""
    if db.dialect.name != "postgresql":
        pytest.skip("prepared statements are psycopg's")
    for _ in range(8):
        with shared_reads(db):
            count(db)
    with db.connect() as connection:
        prepared = connection.execute(
            text("SELECT statement FROM pg_prepared_statements")
        ).scalars()
        assert any("FROM numbers" in statement for statement in prepared)


def test_a_plan_made_stale_by_a_migration_fails_one_read_only(db: Engine) -> None:
    """A column type changed by another process makes PostgreSQL refuse the statements
    prepared before: the read that meets it fails, and the pool starts afresh."""
    if db.dialect.name != "postgresql":
        pytest.skip("prepared statements are psycopg's")
    checked_out = [db.connect() for _ in range(3)]  # three pooled connections, each warm
    for connection in checked_out:
        for _ in range(6):
            connection.execute(select(numbers.c.n)).all()
        connection.commit()
    for connection in checked_out:
        connection.close()
    with db.connect() as other:
        other.execute(text("ALTER TABLE numbers ALTER COLUMN n TYPE bigint"))
        other.commit()
    failures = 0
    for _ in range(4):
        try:
            count(db)
        except DBAPIError:
            failures += 1
    assert failures <= 1


def sent(engine: Engine) -> list[str]:
    statements: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    return statements


def first_number(engine: Engine) -> int | None:
    with one_statement_read(engine) as connection:
        return connection.execute(select(numbers.c.n)).scalar()


def test_a_one_statement_read_then_a_write_begins_only_the_write(db: Engine) -> None:
    """SQLite: a read of one statement runs outside a transaction, so a request that
    looks its token up and then writes sends the write's BEGIN IMMEDIATE alone."""
    if db.dialect.name != "sqlite":
        pytest.skip("PostgreSQL's BEGIN is psycopg's, and a write continues the read")
    statements = sent(db)
    with shared_reads(db):
        assert first_number(db) is None
        with write_transaction(db) as connection:
            connection.execute(insert(numbers).values(n=1))
    assert [s for s in statements if s.startswith("BEGIN")] == ["BEGIN IMMEDIATE"]
    assert count(db) == 1


def test_reads_after_a_one_statement_read_share_one_transaction(db: Engine) -> None:
    statements = sent(db)
    with shared_reads(db):
        first_number(db)
        with read_transaction(db) as connection:
            assert connection.in_transaction()
        count(db)
    if db.dialect.name == "sqlite":
        assert [s for s in statements if s.startswith("BEGIN")] == ["BEGIN"]


def test_a_one_statement_read_sees_what_was_committed(db: Engine) -> None:
    with write_transaction(db) as connection:
        connection.execute(insert(numbers).values(n=7))
    assert first_number(db) == 7
    with shared_reads(db):
        assert first_number(db) == 7


def test_a_failed_one_statement_read_does_not_spoil_the_reads_after_it(db: Engine) -> None:
    with shared_reads(db):
        with pytest.raises(DBAPIError), one_statement_read(db) as connection:
            connection.execute(text("SELECT * FROM no_such_table"))
        assert count(db) == 0
