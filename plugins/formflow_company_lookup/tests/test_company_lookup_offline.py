"""Looking companies up in the local data file, and filling records under the field map."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from formflow.testing import Sandbox
from formflow_company_lookup.companies import Ambiguous, BadAnswer, Company, NotFound
from formflow_company_lookup.lookup import Mapped, Policy, fill, lookup_from, parse_field_map
from formflow_company_lookup.providers import SAMPLE_DATA, OfflineProvider

STAR_SHANGHAI = "91310000MA1FL0XC1T"


def offline() -> OfflineProvider:
    return OfflineProvider(SAMPLE_DATA)


def test_a_name_finds_every_company_containing_it() -> None:
    names = [c.name for c in offline().search("星辰云计算")]
    assert names == ["上海星辰云计算有限公司", "杭州星辰云计算有限公司"]


def test_a_credit_code_finds_that_company_only() -> None:
    [company] = offline().search(STAR_SHANGHAI.lower())
    assert company.legal_representative == "林晓星"


def test_a_lookup_that_finds_several_asks_to_choose() -> None:
    lookup = lookup_from({})
    with pytest.raises(Ambiguous, match="2 companies match '星辰'") as caught:
        lookup.one("星辰")
    assert len(caught.value.candidates) == 2


def test_the_exact_name_among_several_is_the_one() -> None:
    assert lookup_from({}).one("上海星辰云计算有限公司").credit_code == STAR_SHANGHAI


def test_a_company_nobody_knows_is_not_found() -> None:
    with pytest.raises(NotFound, match="no company found for '不存在的公司'"):
        lookup_from({}).one("不存在的公司")


def test_a_data_file_that_is_not_companies_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "companies.json"
    path.write_text(json.dumps([{"name": "无代码公司"}]), encoding="utf-8")
    with pytest.raises(BadAnswer, match="without a name or credit code"):
        OfflineProvider(path).search("无代码")


def test_the_field_map_reads_attribute_field_and_policy() -> None:
    assert parse_field_map("status = reg_status always\naddress = addr") == (
        Mapped("status", "reg_status", Policy.ALWAYS),
        Mapped("address", "addr", Policy.IF_EMPTY),
    )


def test_a_field_map_line_that_is_wrong_is_named() -> None:
    with pytest.raises(Exception, match="field_map line 2"):
        parse_field_map("name = name\nceo = boss")


def test_if_empty_keeps_what_someone_typed_and_always_refreshes(box: Sandbox) -> None:
    form = box.app.form("customer")
    company = Company(
        name="上海星辰云计算有限公司",
        credit_code=STAR_SHANGHAI,
        address="上海市浦东新区张江路 100 号 8 楼",
        status="存续",
    )
    record = {"name": "星辰", "address": "typed by hand", "reg_status": "注销"}
    field_map = parse_field_map("name = name always\naddress = address\nstatus = reg_status always")
    assert fill(form, record, company, field_map) == {
        "name": "上海星辰云计算有限公司",
        "reg_status": "存续",
    }


def test_fields_the_form_lacks_are_skipped(box: Sandbox) -> None:
    company = Company(name="X", credit_code=STAR_SHANGHAI, status="存续")
    form = box.app.form("customer")
    assert fill(form, {}, company, parse_field_map("status = no_such_field")) == {}
