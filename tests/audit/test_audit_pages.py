"""The audit log's page and what signing in and out through the pages leaves in the log."""

from __future__ import annotations

import csv
import io
from datetime import datetime

from flask import Flask

from formflow import accounts, audit
from formflow.audit import AuditQuery
from formflow.lifecycle.instance import Instance
from formflow.storage.database import read_transaction, write_transaction
from formflow.testing import csrf_token, sign_in

PASSWORD = "password-1"


def entries(instance: Instance, action: str) -> list[audit.Entry]:
    with read_transaction(instance.engine) as connection:
        return [item.entry for item in audit.search(connection, AuditQuery(action=action)).entries]


def test_signing_in_through_the_page_logs_the_address_and_channel(
    app: Flask, instance: Instance
) -> None:
    sign_in(app.test_client(), "admin", PASSWORD)
    (entry,) = entries(instance, "sign_in")
    assert (entry.address, entry.detail["via"]) == ("127.0.0.1", "web")


def test_a_wrong_password_is_logged_as_a_failed_sign_in(app: Flask, instance: Instance) -> None:
    client = app.test_client()
    token = csrf_token(client, "/login")
    client.post("/login", data={"username": "admin", "password": "wrong", "csrf_token": token})
    (entry,) = entries(instance, "sign_in.failed")
    assert entry.detail["username"] == "admin"


def test_signing_out_is_logged_for_the_user(app: Flask, instance: Instance) -> None:
    client = sign_in(app.test_client(), "admin", PASSWORD)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    (entry,) = entries(instance, "sign_out")
    assert entry.user_id is not None


def test_the_page_searches_by_action(app: Flask) -> None:
    client = sign_in(app.test_client(), "admin", PASSWORD)
    page = client.get("/admin/audit?action=definition.publish").text
    assert "definition.publish" in page
    assert "<code>sign_in</code>" not in page


def test_the_page_goes_back_in_time_a_page_at_a_time(app: Flask, instance: Instance) -> None:
    with write_transaction(instance.engine) as connection:
        for number in range(60):
            audit.log(
                connection, "record.update", app_key="demo", form_key="item", record_id=number
            )
    client = sign_in(app.test_client(), "admin", PASSWORD)
    first = client.get("/admin/audit?form=item").text
    assert ">demo/item/59<" in first
    assert ">demo/item/10<" in first
    assert ">demo/item/9<" not in first
    older = first.split('href="/admin/audit?before=')[1].split('"')[0].replace("&amp;", "&")
    second = client.get(f"/admin/audit?before={older}").text
    assert ">demo/item/9<" in second
    assert ">demo/item/10<" not in second
    assert 'href="/admin/audit?before=' not in second


def test_the_export_is_csv_of_the_matching_entries_and_is_itself_logged(
    app: Flask, instance: Instance
) -> None:
    client = sign_in(app.test_client(), "admin", PASSWORD)
    response = client.get("/admin/audit/export.csv?action=sign_in")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert response.mimetype == "text/csv"
    assert [row["action"] for row in rows] == ["sign_in"]
    assert rows[0]["username"] == "admin"
    (export,) = entries(instance, "export")
    assert export.detail["filters"] == {"action": "sign_in"}


def test_only_administrators_read_the_log(app: Flask, instance: Instance) -> None:
    with write_transaction(instance.engine) as connection:
        accounts.create_user(connection, "li", PASSWORD)
    client = sign_in(app.test_client(), "li", PASSWORD)
    assert client.get("/admin/audit").status_code == 403
    assert client.get("/admin/audit/export.csv").status_code == 403


def test_no_route_of_the_app_changes_the_log(app: Flask) -> None:
    writing = {"POST", "PUT", "PATCH", "DELETE"}
    audit_rules = [
        rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/admin/audit")
    ]
    assert audit_rules
    assert [rule.rule for rule in audit_rules if set(rule.methods or ()) & writing] == []


def test_the_page_searches_by_days_in_the_instance_zone_and_by_record(
    app: Flask, instance: Instance
) -> None:
    shanghai = instance.settings.timezone
    with write_transaction(instance.engine) as connection:
        for day, record_id in ((1, 101), (2, 102), (3, 103)):
            moment = datetime(2026, 11, day, 0, 30, tzinfo=shanghai)  # the evening before in UTC
            audit.log(
                connection,
                "record.update",
                app_key="demo",
                form_key="item",
                record_id=record_id,
                at=moment,
            )
    client = sign_in(app.test_client(), "admin", PASSWORD)
    page = client.get("/admin/audit?since=2026-11-02&until=2026-11-02").text
    assert [number for number in (101, 102, 103) if f">demo/item/{number}<" in page] == [102]
    page = client.get("/admin/audit?record=103").text
    assert [number for number in (101, 102, 103) if f">demo/item/{number}<" in page] == [103]


def test_the_page_says_what_is_wrong_with_a_search(app: Flask) -> None:
    client = sign_in(app.test_client(), "admin", PASSWORD)
    page = client.get("/admin/audit?since=yesterday&user=nobody").text
    assert page.count('class="error" role="alert"') == 2
