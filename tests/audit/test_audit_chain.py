"""The audit log's hash chain: gapless, tamper-evident, one head under concurrent writers."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import Connection, Engine, delete, event, insert, select, update

from audit.test_audit_append import keep_history
from formflow import audit
from formflow.audit.chain import Entry
from formflow.records.unit import current_unit, unit_of_work
from formflow.storage.database import connect, read_transaction, write_transaction
from formflow.storage.platform_tables import audit_entries, audit_log, platform_metadata
from support import counting_statements


@pytest.fixture
def logged(engine: Engine) -> Engine:
    """Platform tables with five entries in the log."""
    platform_metadata.create_all(engine)
    for number in range(5):
        with write_transaction(engine) as connection:
            audit.log(
                connection,
                "record.update",
                user_id=7,
                app_key="shop",
                form_key="order",
                record_id=number,
                detail={"fields": ["total"]},
            )
    return engine


def verdict(engine: Engine) -> audit.Verdict:
    with read_transaction(engine) as connection:
        return audit.verify(connection)


def test_entries_are_numbered_without_gaps_each_naming_the_hash_before(logged: Engine) -> None:
    with read_transaction(logged) as connection:
        rows = connection.execute(select(audit_entries).order_by(audit_entries.c.id)).all()
    assert [row.id for row in rows] == [1, 2, 3, 4, 5]
    assert [row.previous_hash for row in rows[1:]] == [row.hash for row in rows[:-1]]


def test_an_intact_log_verifies(logged: Engine) -> None:
    found = verdict(logged)
    assert found.intact
    assert (found.checked, found.head_id) == (5, 5)


def test_an_edited_entry_is_found(logged: Engine) -> None:
    with write_transaction(logged) as connection:
        connection.execute(update(audit_entries).where(audit_entries.c.id == 3).values(user_id=8))
    broken = verdict(logged).broken
    assert broken is not None
    assert (broken.entry_id, broken.kind) == (3, "edited")


def test_an_edited_detail_is_found(logged: Engine) -> None:
    with write_transaction(logged) as connection:
        connection.execute(
            update(audit_entries).where(audit_entries.c.id == 2).values(detail={"fields": []})
        )
    broken = verdict(logged).broken
    assert broken is not None
    assert (broken.entry_id, broken.kind) == (2, "edited")


def test_a_deleted_entry_is_found(logged: Engine) -> None:
    with write_transaction(logged) as connection:
        connection.execute(delete(audit_entries).where(audit_entries.c.id == 4))
    broken = verdict(logged).broken
    assert broken is not None
    assert (broken.entry_id, broken.kind) == (4, "missing")


def test_deleting_the_newest_entries_is_found_by_the_head(logged: Engine) -> None:
    with write_transaction(logged) as connection:
        connection.execute(delete(audit_entries).where(audit_entries.c.id >= 4))
    broken = verdict(logged).broken
    assert broken is not None
    assert (broken.entry_id, broken.kind) == (4, "missing")


def forge(connection: Connection, entry_id: int, previous_hash: str) -> None:
    """Write an entry as someone with database access and the hashing recipe would."""
    at = connection.execute(select(audit_entries.c.at).where(audit_entries.c.id == 1)).scalar_one()
    entry = Entry(id=entry_id, at=at, user_id=1, action="sign_in", previous_hash=previous_hash)
    connection.execute(
        insert(audit_entries).values(
            id=entry.id,
            at=entry.at,
            user_id=entry.user_id,
            action=entry.action,
            detail={},
            previous_hash=entry.previous_hash,
            hash=entry.expected_hash(),
        )
    )


def test_an_inserted_entry_is_found_even_with_a_correct_hash(logged: Engine) -> None:
    with write_transaction(logged) as connection:
        last = connection.execute(select(audit_entries.c.hash).where(audit_entries.c.id == 5))
        forge(connection, 6, last.scalar_one())
    broken = verdict(logged).broken
    assert broken is not None
    assert (broken.entry_id, broken.kind) == (6, "head")


def test_an_entry_replaced_in_the_middle_is_found(logged: Engine) -> None:
    with write_transaction(logged) as connection:
        connection.execute(delete(audit_entries).where(audit_entries.c.id == 3))
        forge(connection, 3, "f" * 64)
    broken = verdict(logged).broken
    assert broken is not None
    assert (broken.entry_id, broken.kind) == (3, "inserted")


def failing_act(engine: Engine) -> None:
    with write_transaction(engine) as connection:
        audit.log(connection, "sign_in", user_id=1)
        raise RuntimeError("the act failed")


def test_an_act_rolled_back_leaves_no_entry_and_no_gap(logged: Engine) -> None:
    with pytest.raises(RuntimeError):
        failing_act(logged)
    with write_transaction(logged) as connection:
        entry = audit.log(connection, "sign_out", user_id=1)
    assert entry.id == 6
    assert verdict(logged).intact


def test_concurrent_writers_keep_one_chain(logged: Engine) -> None:
    def write(user_id: int) -> None:
        for _ in range(10):
            with write_transaction(logged) as connection:
                audit.log(connection, "record.create", user_id=user_id)

    threads = [threading.Thread(target=write, args=(user_id,)) for user_id in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    found = verdict(logged)
    assert found.intact
    assert found.checked == 45


def test_a_unit_of_work_appends_its_entries_with_one_advance_of_the_head(logged: Engine) -> None:
    seen: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_rest: object) -> None:
        seen.append(statement)

    event.listen(logged, "before_cursor_execute", record)
    try:
        with unit_of_work(logged) as unit:
            for number in range(3):
                audit.log(unit.connection, "record.update", user_id=7, record_id=number)
    finally:
        event.remove(logged, "before_cursor_execute", record)
    assert sum("ff_audit_head" in statement for statement in seen) == 1  # advance
    assert sum("INSERT INTO ff_audit_entries" in statement for statement in seen) == 1
    with read_transaction(logged) as connection:
        rows = connection.execute(select(audit_entries).order_by(audit_entries.c.id)).all()
    assert [(row.id, row.record_id) for row in rows[5:]] == [(6, 0), (7, 1), (8, 2)]
    assert verdict(logged).intact


def refused_write(connection: Connection, record_id: int) -> None:
    with connection.begin_nested():
        audit.log(connection, "record.create", user_id=7, record_id=record_id)
        raise RuntimeError("the write was refused")


def test_an_entry_logged_in_a_savepoint_that_rolls_back_is_dropped(logged: Engine) -> None:
    with unit_of_work(logged) as unit:
        audit.log(unit.connection, "record.create", user_id=7, record_id=1)
        with pytest.raises(RuntimeError):
            refused_write(unit.connection, 2)
        with unit.connection.begin_nested():
            audit.log(unit.connection, "record.create", user_id=7, record_id=3)
    with read_transaction(logged) as connection:
        rows = connection.execute(select(audit_entries).order_by(audit_entries.c.id)).all()
    assert [(row.id, row.record_id) for row in rows[5:]] == [(6, 1), (7, 3)]
    assert verdict(logged).intact


def failing_unit(engine: Engine) -> None:
    with unit_of_work(engine) as unit:
        audit.log(unit.connection, "record.create", user_id=7, record_id=1)
        raise RuntimeError("the act failed")


def test_a_unit_that_fails_leaves_no_entry(logged: Engine) -> None:
    with pytest.raises(RuntimeError):
        failing_unit(logged)
    assert verdict(logged).head_id == 5


def test_a_single_entry_costs_one_statement_on_postgresql_and_three_on_sqlite(
    logged: Engine,
) -> None:
    with counting_statements(logged) as seen, write_transaction(logged) as connection:
        entry = audit.log(connection, "sign_in", user_id=1)
    assert entry is not None
    assert entry.id == 6
    assert verdict(logged).intact
    if logged.dialect.name == "postgresql":
        assert len(seen) == 1  # lock, advance, hash and insert in one
    else:
        assert len(seen) == 4  # BEGIN IMMEDIATE, the head read under the write lock, ...
        assert seen[2].startswith("INSERT INTO ff_audit_entries")
        assert seen[3].startswith("UPDATE ff_audit_head")


def test_a_writer_another_came_before_appends_no_more_statements(
    logged: Engine, database_url: str
) -> None:
    other = connect(database_url)  # another process: it has not seen what this one wrote
    try:
        with write_transaction(other) as connection:
            audit.log(connection, "sign_in", user_id=2)
        with counting_statements(logged) as seen, write_transaction(logged) as connection:
            entry = audit.log(connection, "sign_out", user_id=1)
    finally:
        other.dispose()
    assert sum("ff_audit_head" in statement for statement in seen) == (
        1 if logged.dialect.name == "postgresql" else 2  # SQLite: read, then set
    )
    assert entry is not None
    assert entry.id == 7
    assert verdict(logged).intact


def test_an_entry_rolled_back_then_written_by_another_is_not_chained_after(
    logged: Engine, database_url: str
) -> None:
    with pytest.raises(RuntimeError):
        failing_act(logged)  # this process wrote entry 6, which was rolled back
    other = connect(database_url)
    try:
        with write_transaction(other) as connection:
            audit.log(connection, "sign_in", user_id=2)  # entry 6 again, another hash
    finally:
        other.dispose()
    with write_transaction(logged) as connection:
        entry = audit.log(connection, "sign_out", user_id=1)
    assert entry is not None
    assert entry.id == 7
    assert verdict(logged).intact


def test_eight_writers_in_two_processes_keep_one_chain_through_rollbacks(
    logged: Engine, database_url: str
) -> None:
    other = connect(database_url)
    committed = [0] * 8

    def write(writer: int) -> None:
        engine = logged if writer % 2 else other
        for step in range(8):
            if step % 3 == writer % 3:
                with pytest.raises(RuntimeError):
                    failing_act(engine)
                continue
            with write_transaction(engine) as connection:
                audit.log(connection, "record.create", user_id=writer)
            committed[writer] += 1

    threads = [threading.Thread(target=write, args=(writer,)) for writer in range(8)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        other.dispose()
    found = verdict(logged)
    assert found.intact
    assert found.checked == 5 + sum(committed)


def kept_history(unit_connection: Connection, record_id: int) -> None:
    """:func:`keep_history` in the unit open on ``unit_connection``."""
    unit = current_unit()
    assert unit is not None
    assert unit.connection is unit_connection
    keep_history(record_id)


def refused_history(connection: Connection, record_id: int) -> None:
    with connection.begin_nested():
        kept_history(connection, record_id)
        raise RuntimeError("the write was refused")


def history_ids(engine: Engine) -> list[int]:
    with read_transaction(engine) as connection:
        found = select(audit_log.c.record_id).order_by(audit_log.c.id)
        return list(connection.execute(found).scalars())


def test_a_units_kept_rows_are_written_with_its_entry(logged: Engine) -> None:
    with counting_statements(logged) as seen, unit_of_work(logged) as unit:
        kept_history(unit.connection, 1)
        kept_history(unit.connection, 2)
        audit.log(unit.connection, "record.create", user_id=7, record_id=1)
    assert history_ids(logged) == [1, 2]
    assert verdict(logged).intact
    if logged.dialect.name == "postgresql":  # one statement: the rows ride the advance
        assert len(seen) == 1
    else:
        assert len(seen) == 5  # BEGIN IMMEDIATE, the rows, the head, the entry, the head


def test_a_batchs_append_writes_its_rows_beside_the_advance(logged: Engine) -> None:
    count = 2
    with counting_statements(logged) as seen, unit_of_work(logged) as unit:
        for number in range(count):
            kept_history(unit.connection, number)
            audit.log(unit.connection, "record.update", user_id=7, record_id=number)
    assert history_ids(logged) == list(range(count))
    assert verdict(logged).intact
    assert not any(statement.startswith("WITH") for statement in seen), seen


def test_a_units_kept_rows_are_written_without_entries_too(logged: Engine) -> None:
    with unit_of_work(logged) as unit:
        kept_history(unit.connection, 1)
    assert history_ids(logged) == [1]


def test_kept_rows_of_a_savepoint_that_rolls_back_are_dropped(logged: Engine) -> None:
    with unit_of_work(logged) as unit:
        kept_history(unit.connection, 1)
        audit.log(unit.connection, "record.create", user_id=7, record_id=1)
        with pytest.raises(RuntimeError):
            refused_history(unit.connection, 2)
    assert history_ids(logged) == [1]
    assert verdict(logged).head_id == 6


def test_kept_rows_are_written_once_when_another_writer_came_between(
    logged: Engine, database_url: str
) -> None:
    other = connect(database_url)  # another process: it has not seen what this one wrote
    try:
        with write_transaction(other) as connection:
            audit.log(connection, "sign_in", user_id=2)
        with unit_of_work(logged) as unit:
            kept_history(unit.connection, 1)
            audit.log(unit.connection, "record.create", user_id=7, record_id=1)
    finally:
        other.dispose()
    assert history_ids(logged) == [1]
    found = verdict(logged)
    assert found.intact
    assert found.head_id == 7
