"""The automations page: administrators read the rules and the run log per rule and record."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from flask import Flask
from flask.testing import FlaskClient

from formflow.automations import log
from formflow.storage.database import write_transaction

Login = Callable[[str], FlaskClient]


def a_run(app: Flask, key: str, record_id: int, status: str = log.DONE, error: str = "") -> None:
    start = log.RunStart(
        app_key="crm_sfa",
        automation_key=key,
        trigger="created",
        form_key="follow_up",
        record_id=record_id,
        event_id=None,
        run_key=f"test:{key}:{record_id}",
        depth=0,
        started_at=datetime.now(UTC),
    )
    with write_transaction(app.extensions["formflow"].engine) as connection:
        log.write_run(
            connection,
            start,
            status=status,
            duration_ms=12,
            changes=[{"action": "set", "form": "follow_up", "id": record_id, "fields": ["x"]}],
            error=error or None,
        )


def test_only_administrators_reach_the_automations_page(client: FlaskClient, login: Login) -> None:
    assert client.get("/admin/automations/").status_code == 302
    login("manager")
    assert client.get("/admin/automations/").status_code == 403


def test_the_log_is_listed_per_rule_and_per_record(
    app: Flask, client: FlaskClient, login: Login
) -> None:
    a_run(app, "touch_customer", 7)
    a_run(app, "touch_customer", 8, status=log.ERROR, error="no customer record 3 to change")
    a_run(app, "other_rule", 7)
    login("admin")
    page = client.get("/admin/automations/?app=crm_sfa").text
    assert page.count("follow_up/7") == 2
    assert "no customer record 3 to change" in page
    by_rule = client.get("/admin/automations/?app=crm_sfa&rule=other_rule").text
    assert "follow_up/8" not in by_rule
    assert "follow_up/7" in by_rule
    by_record = client.get("/admin/automations/?app=crm_sfa&form=follow_up&record=8").text
    assert "follow_up/8" in by_record
    assert "follow_up/7" not in by_record


def test_an_unknown_app_is_not_found(client: FlaskClient, login: Login) -> None:
    login("admin")
    assert client.get("/admin/automations/?app=nope").status_code == 404


def test_the_page_speaks_chinese(client: FlaskClient, login: Login) -> None:
    login("admin")
    page = client.get("/admin/automations/?app=crm_sfa", headers={"Accept-Language": "zh-CN"}).text
    assert "自动化" in page
    assert "运行记录" in page


def test_each_rule_says_whether_it_runs_inside_the_save_or_after_it(
    client: FlaskClient, login: Login
) -> None:
    login("admin")
    page = client.get("/admin/automations/?app=crm_sfa").text
    clock = page.split("<code>stage_clock_starts</code>", 1)[1].split("</tr>", 1)[0]
    assert "保存时一并执行" in clock
    assert "保存后执行" in page
