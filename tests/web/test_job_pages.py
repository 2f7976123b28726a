"""The failed background jobs page: administrators read the dead letters and retry them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import insert, select

from formflow.plugin_kit import PluginJob
from formflow.storage.database import read_transaction, write_transaction
from formflow.storage.platform_tables import dead_letters, event_deliveries, events, plugin_jobs
from web.conftest import csrf_token

Login = Callable[[str], FlaskClient]


def a_dead_letter(app: Flask) -> int:
    with write_transaction(app.extensions["formflow"].engine) as connection:
        event_id = connection.execute(
            insert(events).returning(events.c.id),
            {
                "app_key": "crm",
                "form_key": "customer",
                "record_id": 7,
                "kind": "created",
                "user_id": None,
                "at": datetime.now(UTC),
                "data": {"record": {}},
            },
        ).scalar_one()
        return int(
            connection.execute(
                insert(dead_letters).returning(dead_letters.c.id),
                {
                    "subscriber": "mail.welcome",
                    "event_id": event_id,
                    "attempts": 12,
                    "error": "SMTPError: 550 mailbox unavailable",
                    "failed_at": datetime.now(UTC),
                },
            ).scalar_one()
        )


def test_only_administrators_reach_the_failed_jobs_page(client: FlaskClient, login: Login) -> None:
    assert client.get("/admin/jobs/dead").status_code == 302
    login("manager")
    assert client.get("/admin/jobs/dead").status_code == 403
    token = csrf_token(client, "/")
    assert client.post("/admin/jobs/dead/1/retry", data={"csrf_token": token}).status_code == 403


def test_a_dead_letter_is_shown_and_retried(app: Flask, client: FlaskClient, login: Login) -> None:
    letter_id = a_dead_letter(app)
    login("admin")
    page = client.get("/admin/jobs/dead").text
    assert "mail.welcome" in page
    assert "SMTPError: 550 mailbox unavailable" in page
    assert "crm/customer/7" in page

    path = f"/admin/jobs/dead/{letter_id}/retry"
    response = client.post(path, data={"csrf_token": csrf_token(client, "/admin/jobs/dead")})
    assert response.status_code == 302
    with read_transaction(app.extensions["formflow"].engine) as connection:
        assert connection.execute(select(dead_letters.c.id)).first() is None
        owed = connection.execute(select(event_deliveries.c.subscriber)).scalars().all()
    assert owed == ["mail.welcome"]  # owed again, for a process that has the subscriber
    page = client.get("/admin/jobs/dead").text
    assert "mail.welcome" not in page

    again = client.post(path, data={"csrf_token": csrf_token(client, "/admin/jobs/dead")})
    assert again.status_code == 302  # already retried: a message, not an error


def a_failed_plugin_job(app: Flask) -> int:
    with write_transaction(app.extensions["formflow"].engine) as connection:
        now = datetime.now(UTC)
        return int(
            connection.execute(
                insert(plugin_jobs).returning(plugin_jobs.c.id),
                {
                    "name": "report.mail",
                    "payload": {"to": "ops"},
                    "status": "failed",
                    "attempts": 6,
                    "error": "SMTPError: 451 try later",
                    "available_at": now,
                    "created_at": now,
                    "finished_at": now,
                },
            ).scalar_one()
        )


def test_a_failed_plugin_job_is_shown_and_run_again(
    app: Flask, client: FlaskClient, login: Login
) -> None:
    job_id = a_failed_plugin_job(app)
    ran: list[dict[str, object]] = []
    jobs = app.extensions["formflow"].plugin_jobs
    jobs.definitions = {
        "report.mail": PluginJob("report.mail", lambda run: ran.append(run.payload))
    }
    login("admin")
    page = client.get("/admin/jobs/dead").text
    assert "report.mail" in page
    assert "SMTPError: 451 try later" in page

    path = f"/admin/jobs/plugin/{job_id}/rerun"
    assert client.post(path).status_code == 400  # CSRF is checked
    response = client.post(path, data={"csrf_token": csrf_token(client, "/admin/jobs/dead")})
    assert response.status_code == 302
    assert ran == [{"to": "ops"}]  # no queue in this app: run at once
    with read_transaction(app.extensions["formflow"].engine) as connection:
        assert connection.execute(select(plugin_jobs.c.status)).scalar_one() == "done"
    assert "report.mail" not in client.get("/admin/jobs/dead").text
    again = client.post(path, data={"csrf_token": csrf_token(client, "/admin/jobs/dead")})
    assert again.status_code == 302  # no longer failed: a message, not an error
