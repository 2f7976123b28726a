"""Appending to the audit chain from many processes: no guessed head, one chain.

A single entry is numbered and hashed by the database under the head's lock; a unit's
batch is chained in Python after a guess the advance checks. Whatever the mix and however
many processes write, the chain verifies and its ids have no gap.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, select

from formflow import audit
from formflow.audit.entry import Entry
from formflow.audit.locked import CARRIED_RIDERS_AT_MOST
from formflow.records.unit import current_unit, unit_of_work
from formflow.storage.database import connect, read_transaction, write_transaction
from formflow.storage.platform_tables import audit_entries, audit_log, platform_metadata

WRITERS = 8
STEPS = 12
AWKWARD_DETAIL = {
    "名前": "Zoë 😀 ü",
    "id": 0,
    "record_id": None,
    "nested": {"id": 12, "quote": 'a"id":0,"record_id":b', "empty": None},
    "line": "one\ntwo\ttab \\ back",
}
"""Non-ASCII text, keys named like the entry's own, quotes and escapes: what the database
must hash to the very bytes Python does."""


@pytest.fixture
def platform(engine: Engine) -> Engine:
    platform_metadata.create_all(engine)
    return engine


def keep_history(record_id: int) -> None:
    """What a record write keeps back besides its audit entry: its history row."""
    unit = current_unit()
    assert unit is not None
    unit.kept_inserts(audit_log).append(
        {
            "table_name": "shop__order",
            "record_id": record_id,
            "action": "create",
            "user_id": None,
            "at": datetime.now(UTC),
            "changes": {"total": [None, "5.00"]},
        }
    )


def failing_act(engine: Engine, writer: int) -> None:
    with write_transaction(engine) as connection:
        audit.log(connection, "sign_out", user_id=writer)
        raise RuntimeError("the act failed")


def write_as_a_process(url: str, writer: int) -> int:
    """One writer process: single entries, a unit's batch of several, a save with its
    history rows and non-ASCII detail, and an act rolled back, interleaved. Returns how
    many entries it committed."""
    engine = connect(url)
    committed = 0
    try:
        for step in range(STEPS):
            kind = (step + writer) % 4
            if kind == 0:
                with write_transaction(engine) as connection:
                    audit.log(connection, "sign_in", user_id=writer)
                committed += 1
            elif kind == 1:
                with unit_of_work(engine) as unit:
                    for number in range(2 + step % 2):
                        keep_history(number)
                        audit.log(unit.connection, "record.update", record_id=number)
                committed += 2 + step % 2
            elif kind == 2:
                with unit_of_work(engine) as unit:
                    keep_history(step)
                    audit.log(unit.connection, "record.create", detail=AWKWARD_DETAIL)
                committed += 1
            else:
                with pytest.raises(RuntimeError):
                    failing_act(engine, writer)
    finally:
        engine.dispose()
    return committed


def entry_ids(engine: Engine) -> list[int]:
    with read_transaction(engine) as connection:
        return list(
            connection.execute(select(audit_entries.c.id).order_by(audit_entries.c.id)).scalars()
        )


def test_eight_writer_processes_mixing_single_and_batch_appends_keep_one_gapless_chain(
    platform: Engine, database_url: str
) -> None:
    with ProcessPoolExecutor(WRITERS, mp_context=multiprocessing.get_context("spawn")) as pool:
        committed = sum(pool.map(write_as_a_process, [database_url] * WRITERS, range(WRITERS)))
    with read_transaction(platform) as connection:
        found = audit.verify(connection)
    assert found.intact, found.broken
    assert entry_ids(platform) == list(range(1, committed + 1))
    assert found.head_id == committed


def test_the_database_hashes_an_awkward_detail_to_the_bytes_python_does(
    platform: Engine,
) -> None:
    with write_transaction(platform) as connection:
        audit.log(connection, "sign_in", user_id=1)
        written = audit.log(connection, "record.create", detail=AWKWARD_DETAIL, record_id=None)
    assert written is not None
    assert written.hash == written.expected_hash()
    with read_transaction(platform) as connection:
        assert audit.verify(connection).intact


def test_the_first_entry_of_an_instance_is_written_with_its_units_rows(platform: Engine) -> None:
    with unit_of_work(platform) as unit:
        keep_history(1)
        audit.log(unit.connection, "record.create", record_id=1)
    with read_transaction(platform) as connection:
        assert audit.verify(connection).head_id == 1
        assert connection.execute(select(audit_log.c.record_id)).scalars().all() == [1]


def test_the_canonical_text_joins_around_the_id_into_the_whole() -> None:
    entry = Entry(
        id=4711,
        at=datetime(2026, 12, 5, 13, 0, 0, 5, tzinfo=UTC),
        user_id=None,
        action="record.create",
        detail=AWKWARD_DETAIL,
    )
    before, after = entry.canonical_around_id()
    assert (before + "4711" + after).encode() == entry.canonical()


def test_a_single_entry_with_more_rows_than_its_statement_carries_writes_them_beside(
    platform: Engine,
) -> None:
    count = CARRIED_RIDERS_AT_MOST + 1
    with unit_of_work(platform) as unit:
        for number in range(count):
            keep_history(number)
        audit.log(unit.connection, "record.create", record_id=1)
    with read_transaction(platform) as connection:
        assert audit.verify(connection).head_id == 1
        history = connection.execute(select(audit_log.c.record_id).order_by(audit_log.c.id))
        assert history.scalars().all() == list(range(count))
