"""``formflow import`` and ``formflow export``: files in and out of a form from the shell."""

from __future__ import annotations

import codecs
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from formflow.cli import main

SALES_APP = Path(__file__).parent / "records" / "sales_app"

Run = Callable[..., Result]


@pytest.fixture
def run(tmp_path: Path) -> Run:
    env = {
        "FORMFLOW_INSTANCE": str(tmp_path / "instance"),
        "FORMFLOW_DATABASE_URL": "",
        "FORMFLOW_APPS": "",
    }

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(main, list(args), env=env)

    app = tmp_path / "sales"
    shutil.copytree(SALES_APP, app)
    assert invoke("init", str(app), "--password", "s3cret-pass").exit_code == 0
    return invoke


def test_import_maps_the_columns_and_says_what_it_did(run: Run, tmp_path: Path) -> None:
    source = tmp_path / "contacts.csv"
    source.write_text("Name,Code,Level\nWu,C1,Key\nLi,C2,Normal\n", encoding="utf-8")
    result = run("import", "sales/contact", str(source))
    assert result.exit_code == 0, result.output
    assert "2 rows in" in result.stdout
    assert "2 created, 0 updated, 0 skipped, 0 failed" in result.stdout


def test_import_exits_1_and_writes_the_report_when_a_row_fails(run: Run, tmp_path: Path) -> None:
    source = tmp_path / "contacts.csv"
    source.write_text("Name,Score\nWu,lots\nLi,5\n", encoding="utf-8")
    report = tmp_path / "errors.xlsx"
    result = run("import", "sales/contact", str(source), "--report", str(report))
    assert result.exit_code == 1
    assert "1 created, 0 updated, 0 skipped, 1 failed" in result.stdout
    assert report.exists()


def test_export_writes_csv_with_a_byte_order_mark_and_headers_in_the_language(
    run: Run, tmp_path: Path
) -> None:
    source = tmp_path / "contacts.csv"
    source.write_text("姓名,编码\n吴,C1\n", encoding="utf-8")
    run("import", "sales/contact", str(source))
    output = tmp_path / "out.csv"
    result = run("export", "sales/contact", "--language", "en", "-o", str(output))
    assert result.exit_code == 0, result.output
    data = output.read_bytes()
    assert data.startswith(codecs.BOM_UTF8)
    lines = data[3:].decode("utf-8").splitlines()
    assert lines[0] == "Code,Name,Company,Level,Owner,Score,Salary,Note"
    assert lines[1].startswith("C1,吴,")


def test_export_refuses_an_unknown_form(run: Run) -> None:
    result = run("export", "sales/nothing")
    assert result.exit_code == 2
    assert "no form 'sales/nothing'" in result.output


def test_import_takes_a_mapping_given_by_hand(run: Run, tmp_path: Path) -> None:
    source = tmp_path / "contacts.csv"
    source.write_text("Firma,Kennung\nWu,K1\n", encoding="utf-8")
    result = run("import", "sales/contact", str(source), "--map", "Firma=name")
    assert result.exit_code == 0, result.output
    assert "Firma -> name" in result.stderr
    refused = run("import", "sales/contact", str(source), "--map", "Kennung=colour")
    assert refused.exit_code == 2
    assert "no field 'colour'" in refused.output
