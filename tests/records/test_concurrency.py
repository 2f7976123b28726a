"""Several processes writing at once: no errors, and auto numbers unique and gap-free."""

from __future__ import annotations

import multiprocessing
from datetime import date

import pytest
from shop import SHOP_DIR
from workers import create_orders

from formflow.storage.tables import AppSchema

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(("processes", "per_process"), [(8, 15)])
def test_concurrent_writers_get_unique_gap_free_numbers(
    database_url: str, schema: AppSchema, processes: int, per_process: int
) -> None:
    context = multiprocessing.get_context("spawn")
    with context.Pool(processes) as pool:
        results = pool.starmap(
            create_orders, [(database_url, str(SHOP_DIR), per_process)] * processes
        )
    numbers = sorted(number for batch in results for number in batch)
    year = f"{date.today():%Y}"
    assert numbers == [f"OR-{year}-{n:04d}" for n in range(1, processes * per_process + 1)]
