"""A capped engine stops a long statement and leaves the pool's other users alone."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from formflow.storage.time_caps import capped

COUNT_FAR = (
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000000) "
    "SELECT count(*) FROM n"
)


def test_a_long_statement_is_stopped_and_its_connection_serves_again(engine: Engine) -> None:
    limited = capped(engine, 0.2)
    with pytest.raises(OperationalError), limited.begin() as connection:
        connection.execute(text(COUNT_FAR))
    with engine.begin() as connection:  # the same pooled connection, no longer capped
        assert (
            connection.execute(text(COUNT_FAR.replace("100000000", "50000"))).scalar_one() == 50000
        )


def test_short_statements_and_the_plain_engine_are_untouched(engine: Engine) -> None:
    limited = capped(engine, 5)
    with limited.begin() as connection:
        assert connection.execute(text("SELECT 1")).scalar_one() == 1
    with engine.begin() as connection:
        assert connection.execute(text("SELECT 2")).scalar_one() == 2
