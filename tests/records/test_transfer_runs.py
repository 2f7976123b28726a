"""Import runs: recorded, run as a background job on a queue, progress noted, errors kept."""

from __future__ import annotations

from pathlib import Path

from huey import MemoryHuey
from sales import Sales, csv_file

from formflow.events import Relay
from formflow.jobs import Jobs
from formflow.transfer.importing import ImportOptions
from formflow.transfer.runs import DONE, ImportRuns, attach


def runs_of(sales: Sales, folder: Path) -> ImportRuns:
    return ImportRuns(sales.service.engine, folder, lambda _app_key: sales.service)


def start(runs: ImportRuns, sales: Sales, tmp_path: Path, *, background: bool) -> int:
    upload = csv_file(tmp_path / "up.csv", "姓名,评分\nWu,5\nLi,lots\nHe,7\n")
    return runs.start(
        app_key="sales",
        form_key="contact",
        user_id=sales.mary.user_id,
        upload=upload,
        file_name="contacts.csv",
        options=ImportOptions({0: "name", 1: "score"}),
        language="en",
        background=background,
    )


def test_a_run_without_a_queue_runs_at_once_and_keeps_its_errors(
    sales: Sales, tmp_path: Path
) -> None:
    runs = runs_of(sales, tmp_path / "imports")
    run = runs.get(start(runs, sales, tmp_path, background=True))
    assert run is not None
    assert (run.status, run.created, run.failed) == (DONE, 2, 1)
    [error] = runs.errors(run.id)
    assert (error.row, error.column, error.problem.code) == (3, "评分", "type")


def test_a_run_on_the_queue_is_done_by_the_job(sales: Sales, tmp_path: Path) -> None:
    runs = runs_of(sales, tmp_path / "imports")
    huey = MemoryHuey(immediate=True)
    attach(Jobs(huey, Relay(sales.service.engine, {})), runs)
    run_id = start(runs, sales, tmp_path, background=True)
    run = runs.get(run_id)
    assert run is not None
    assert (run.status, run.processed, run.created) == (DONE, 3, 2)
    assert not (tmp_path / "imports" / f"{run_id}.upload").exists()


def test_a_finished_run_handed_over_again_changes_nothing(sales: Sales, tmp_path: Path) -> None:
    runs = runs_of(sales, tmp_path / "imports")
    run_id = start(runs, sales, tmp_path, background=False)
    runs.run(run_id)
    run = runs.get(run_id)
    assert run is not None
    assert run.created == 2
    assert len(sales.service.find(sales.mary, "contact").rows) == 2
