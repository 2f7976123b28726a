"""Duplicate checks at write time, with the CRM app's checks: the credit code blocks, a
company name, phone or e-mail warns those who ask (people), and says who holds the match."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, insert, select

from formflow import accounts
from formflow.definitions import App, load_app
from formflow.definitions.model import FieldRule
from formflow.errors import DuplicateSuspected, ValidationFailed
from formflow.records.access import Actor
from formflow.records.service import RecordService
from formflow.storage.database import write_transaction
from formflow.storage.platform_tables import duplicate_keys
from formflow.storage.tables import AppSchema
from formflow.transfer import mapping
from formflow.transfer.importing import Duplicates, ImportOptions, import_file
from formflow.transfer.reading import open_sheet
from support import CRM_APP

CODE = "91350100M000100Y43"


@pytest.fixture(scope="module")
def crm() -> App:
    return load_app(CRM_APP)


@pytest.fixture
def service(engine: Engine, crm: App) -> RecordService:
    schema = AppSchema(crm)
    schema.metadata.create_all(engine)
    return RecordService(engine, schema)


@pytest.fixture
def people(engine: Engine, service: RecordService) -> dict[str, Actor]:
    digest = accounts.hash_password("password1")
    roles = {"rep": "sales_rep", "other": "sales_rep", "admin": "admin"}
    actors = {}
    with write_transaction(engine) as connection:
        sales = accounts.create_department(connection, "Sales")
        for name, role in roles.items():
            user_id = accounts.create_user(
                connection,
                name,
                None,
                password_hash=digest,
                department_id=sales,
                roles={"crm_sfa": [role]},
                display_name=name.title(),
            )
            user = accounts.get_user(connection, user_id)
            assert user is not None
            actors[name] = accounts.actor_for(connection, user, "crm_sfa")
    return actors


def _customer(name: str, **more: Any) -> dict[str, Any]:
    return {"name": name, "source": "website", "status": "potential", **more}


def _lead(company: str, **more: Any) -> dict[str, Any]:
    return {"company": company, "contact_name": "张三", "source": "website", **more}


def test_a_company_name_warns_across_leads_and_customers_saying_who_holds_it(
    service: RecordService, people: dict[str, Actor]
) -> None:
    service.create(people["rep"], "customer", _customer("华为技术有限公司"))
    with pytest.raises(DuplicateSuspected) as raised:
        service.create(people["other"], "lead", _lead("华为 技术"), warn_duplicates=True)
    (problem,) = raised.value.problems["company"]
    assert problem.code == "duplicate"
    assert "held by Rep" in problem.message
    assert "华为" not in problem.message
    lead = service.create(people["other"], "lead", _lead("华为 技术"))
    assert lead["company"] == "华为 技术"


def test_writes_that_do_not_ask_are_not_warned(
    service: RecordService, people: dict[str, Actor]
) -> None:
    service.create(people["rep"], "customer", _customer("Acme Co., Ltd."))
    service.create(people["rep"], "customer", _customer("ACME"))


def test_the_credit_code_blocks_whoever_writes(
    service: RecordService, people: dict[str, Actor]
) -> None:
    first = service.create(people["rep"], "customer", _customer("甲", credit_code=CODE))
    service.delete(people["admin"], "customer", first["id"])
    service.create(people["other"], "customer", _customer("乙", credit_code=CODE))
    with pytest.raises(ValidationFailed) as raised:
        service.restore(people["admin"], "customer", first["id"])
    assert "credit_code" in raised.value.problems


def test_the_typed_value_is_checked_as_it_is_typed(
    service: RecordService, people: dict[str, Actor]
) -> None:
    service.create(people["rep"], "customer", _customer("甲", credit_code=CODE))
    (found,) = service.duplicates_of(people["other"], "customer", "credit_code", CODE)
    assert found.code == "duplicate"


def test_a_field_hidden_from_the_typist_finds_no_duplicate(
    engine: Engine, crm: App, service: RecordService, people: dict[str, Actor]
) -> None:
    service.create(people["rep"], "customer", _customer("甲", credit_code=CODE))
    customer = crm.form("customer")
    rep = replace(customer.permission("sales_rep"), fields={"credit_code": FieldRule.HIDDEN})
    hiding = replace(customer, permissions={**customer.permissions, "sales_rep": rep})
    hidden = RecordService(engine, AppSchema(replace(crm, forms={**crm.forms, "customer": hiding})))
    assert hidden.duplicates_of(people["other"], "customer", "credit_code", CODE) == []
    assert hidden.duplicates_of(people["admin"], "customer", "credit_code", CODE)


def test_a_phone_matches_a_contact_in_another_writing(
    service: RecordService, people: dict[str, Actor]
) -> None:
    customer = service.create(people["rep"], "customer", _customer("乙公司"))
    service.create(
        people["rep"],
        "contact",
        {"customer": customer["id"], "name": "李四", "phone": "138 1234 5678"},
    )
    with pytest.raises(DuplicateSuspected) as raised:
        service.create(
            people["other"], "lead", _lead("丙", phone="+8613812345678"), warn_duplicates=True
        )
    assert set(raised.value.problems) == {"phone"}


def test_a_pool_customer_is_said_to_be_in_the_pool(
    service: RecordService, people: dict[str, Actor]
) -> None:
    service.create(
        people["admin"],
        "customer",
        _customer("公海客户", owner=None, in_pool=True),
        grant=("owner", "in_pool"),
    )
    with pytest.raises(DuplicateSuspected) as raised:
        service.create(people["rep"], "lead", _lead("公海客户有限公司"), warn_duplicates=True)
    (problem,) = raised.value.problems["company"]
    assert "public pool" in problem.message


def test_an_edit_warns_only_about_what_it_changes(
    service: RecordService, people: dict[str, Actor]
) -> None:
    service.create(people["rep"], "lead", _lead("丁公司", email="a@example.com"))
    mine = service.create(people["other"], "lead", _lead("戊公司"))
    mine = service.update(
        people["other"], "lead", mine["id"], {"email": "A@Example.com"}, expected_version=1
    )
    service.update(
        people["other"],
        "lead",
        mine["id"],
        {"requirement": "more"},
        expected_version=mine["version"],
        warn_duplicates=True,
    )
    with pytest.raises(DuplicateSuspected):
        service.update(
            people["other"],
            "lead",
            mine["id"],
            {"company": "丁"},
            expected_version=mine["version"] + 1,
            warn_duplicates=True,
        )


def test_keys_follow_deletes_and_rebuild(
    engine: Engine, service: RecordService, people: dict[str, Actor]
) -> None:
    lead = service.create(people["rep"], "lead", _lead("己公司", phone="13900001111"))
    service.delete(people["admin"], "lead", lead["id"])
    service.create(people["other"], "lead", _lead("己公司"), warn_duplicates=True)
    with write_transaction(engine) as connection:
        before = connection.execute(select(func.count()).select_from(duplicate_keys)).scalar()
        assert service.duplicates.rebuild(connection) == before == 1


def test_an_import_batch_reports_matches_and_repeats_within_it(
    service: RecordService, people: dict[str, Actor]
) -> None:
    service.create(people["rep"], "customer", _customer("庚公司"))
    batch = service.create_many(
        people["other"],
        "lead",
        [_lead("庚"), _lead("辛公司"), _lead("辛"), _lead("壬")],
        warn_duplicates=True,
    )
    assert set(batch.created) == {1, 3}
    assert "held by Rep" in batch.problems[0]["company"][0].message
    assert batch.problems[2]["company"][0].code == "duplicate"
    again = service.create_many(people["other"], "lead", [_lead("庚")])
    assert set(again.created) == {0}


def test_an_import_reports_matches_and_repeats_in_its_error_report(
    service: RecordService, people: dict[str, Actor], tmp_path: Path
) -> None:
    service.create(people["rep"], "customer", _customer("癸科技有限公司"))
    path = tmp_path / "leads.csv"
    path.write_text(
        "公司名称,联系人姓名,线索来源\n癸科技,赵六,官网咨询\n子公司甲,钱七,官网咨询\n子公司甲 ,孙八,官网咨询\n",
        encoding="utf-8",
    )
    with open_sheet(path) as sheet:
        found = mapping.suggest(service.app.form("lead"), sheet.headers)
    outcome = import_file(service, people["other"], "lead", path, ImportOptions(found))
    assert outcome.created == 1
    assert [(error.row, error.problem.code) for error in outcome.errors] == [
        (2, "duplicate"),
        (4, "duplicate"),
    ]
    assert "held by Rep" in outcome.errors[0].problem.message


def test_an_import_that_updates_reports_a_change_matching_another_record(
    service: RecordService, people: dict[str, Actor], tmp_path: Path
) -> None:
    service.create(people["rep"], "customer", _customer("寅科技有限公司"))
    lead = service.create(people["other"], "lead", _lead("卯公司", contact_name="周九"))
    path = tmp_path / "leads.csv"
    path.write_text("公司名称,联系人姓名,线索来源\n寅科技,周九,官网咨询\n", encoding="utf-8")
    with open_sheet(path) as sheet:
        found = mapping.suggest(service.app.form("lead"), sheet.headers)
    options = ImportOptions(found, duplicates=Duplicates.UPDATE, match_on=("contact_name",))

    outcome = import_file(service, people["other"], "lead", path, options)

    assert (outcome.updated, [(e.row, e.problem.code) for e in outcome.errors]) == (
        0,
        [(2, "duplicate")],
    )
    assert service.get(people["other"], "lead", lead["id"])["company"] == "卯公司"


def test_keys_of_fields_a_check_no_longer_compares_match_nothing(
    engine: Engine, service: RecordService, people: dict[str, Actor]
) -> None:
    customer = service.create(people["rep"], "customer", _customer("旧名"))
    with write_transaction(engine) as connection:
        connection.execute(
            insert(duplicate_keys),
            {
                "app_key": "crm_sfa",
                "check_key": "company_name",
                "value": "新名",
                "form_key": "customer",
                "field_key": "short_name",
                "record_id": customer["id"],
            },
        )
    service.create(people["other"], "lead", _lead("新名"), warn_duplicates=True)
    with write_transaction(engine) as connection:
        service.duplicates.rebuild(connection)
        keys = connection.execute(select(duplicate_keys.c.field_key)).scalars().all()
    assert sorted(keys) == ["company", "name"]
