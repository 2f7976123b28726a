"""Health, readiness and metrics for load balancers and Prometheus; the monitoring page."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask, abort
from sqlalchemy import insert

from formflow import accounts
from formflow.backups import create_backup
from formflow.config import load_settings
from formflow.lifecycle.install import initialise
from formflow.lifecycle.instance import Instance
from formflow.storage.database import connect, write_transaction
from formflow.storage.platform_tables import dead_letters, events
from formflow.testing import sign_in
from formflow.web import create_app
from support import AppWriter

PASSWORD = "password-1"
TOKEN = "scrape-token-0123456789"
SERIES = (
    "formflow_http_requests_total{",
    "formflow_http_errors_total{",
    "formflow_http_request_duration_seconds_bucket{",
    "formflow_http_request_duration_seconds_sum{",
    "formflow_http_request_duration_seconds_count{",
    "formflow_db_pool_size ",
    "formflow_db_pool_checked_out ",
    "formflow_db_pool_overflow ",
    "formflow_job_queue_depth ",
    "formflow_jobs_failed ",
    "formflow_backup_age_seconds ",
)


@pytest.fixture
def instance(tmp_path: Path, database_url: str, write_app: AppWriter) -> Iterator[Instance]:
    settings = load_settings(
        {
            "FORMFLOW_INSTANCE": str(tmp_path / "instance"),
            "FORMFLOW_DATABASE_URL": database_url,
            "FORMFLOW_METRICS_TOKEN": TOKEN,
        },
        secure_cookies=False,
    )
    initialise(settings, [write_app()], "admin", PASSWORD)
    opened = Instance(settings)
    yield opened
    opened.close()


@pytest.fixture
def app(instance: Instance) -> Flask:
    app = create_app(instance=instance)
    app.add_url_rule("/broken", "broken", lambda: abort(500))
    return app


def scrape(app: Flask) -> str:
    response = app.test_client().get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    return response.text


def test_health_answers_without_a_sign_in(app: Flask) -> None:
    response = app.test_client().get("/healthz")
    assert (response.status_code, response.text) == (200, "ok\n")


def test_health_answers_while_the_database_does_not(
    app: Flask, instance: Instance, tmp_path: Path
) -> None:
    instance.engine = connect(f"sqlite:///{tmp_path}/no/such/folder/formflow.db")
    assert app.test_client().get("/healthz").status_code == 200


def test_readiness_answers_when_the_database_and_queue_do(app: Flask) -> None:
    response = app.test_client().get("/readyz")
    assert response.status_code == 200
    assert response.json == {"ready": True, "problems": []}


def test_readiness_fails_when_the_database_is_unreachable(
    app: Flask, instance: Instance, tmp_path: Path
) -> None:
    instance.engine = connect(f"sqlite:///{tmp_path}/no/such/folder/formflow.db")
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json is not None
    assert response.json["problems"][0].startswith("database: ")


def test_a_scrape_finds_every_series(app: Flask, instance: Instance) -> None:
    client = app.test_client()
    client.get("/healthz")
    client.get("/broken")
    create_backup(instance)
    text = scrape(app)
    missing = [series for series in SERIES if series not in text]
    assert missing == []
    assert 'formflow_http_requests_total{endpoint="monitoring.healthz",status="200"} 1' in text
    assert 'formflow_http_errors_total{endpoint="broken"} 1' in text
    assert 'formflow_http_request_duration_seconds_count{endpoint="monitoring.healthz"} 1' in text
    assert "formflow_backup_age_seconds NaN" not in text


def test_requests_of_other_processes_are_added_in(app: Flask, instance: Instance) -> None:
    app.test_client().get("/healthz")
    other = {"requests": [["monitoring.healthz", "200", 4]], "errors": {}, "latency": {}}
    folder = instance.settings.instance / "metrics"
    folder.mkdir(exist_ok=True)
    (folder / "999999.json").write_text(json.dumps(other), encoding="utf-8")
    assert 'formflow_http_requests_total{endpoint="monitoring.healthz",status="200"} 5' in scrape(
        app
    )


def test_metrics_are_refused_without_the_token(app: Flask) -> None:
    assert app.test_client().get("/metrics").status_code == 401
    wrong = app.test_client().get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401


def test_metrics_are_for_administrators_among_signed_in_people(
    app: Flask, instance: Instance
) -> None:
    with write_transaction(instance.engine) as connection:
        accounts.create_user(connection, "li", PASSWORD)
    assert sign_in(app.test_client(), "li", PASSWORD).get("/metrics").status_code == 403
    assert sign_in(app.test_client(), "admin", PASSWORD).get("/metrics").status_code == 200


def test_the_page_warns_when_there_is_no_backup(app: Flask) -> None:
    page = sign_in(app.test_client(), "admin", PASSWORD).get("/admin/monitoring").text
    assert page.count('role="alert"') == 1
    assert "没有备份" in page


def test_the_page_warns_when_the_last_backup_is_older_than_its_schedule(
    app: Flask, instance: Instance
) -> None:
    # a backup was due three hours ago, well past the hour of grace, whatever the time now
    hour = (datetime.now(instance.settings.timezone) - timedelta(hours=3)).hour
    instance.settings = replace(instance.settings, backup_schedule=f"0 {hour} * * *")
    made = create_backup(instance)
    manifest = json.loads((made.path / "manifest.json").read_text(encoding="utf-8"))
    manifest["created_at"] = (datetime.now(UTC) - timedelta(days=3)).isoformat()
    (made.path / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    page = sign_in(app.test_client(), "admin", PASSWORD).get("/admin/monitoring").text
    assert "早于备份计划" in page


def test_the_page_is_calm_with_a_fresh_backup_and_no_failed_jobs(
    app: Flask, instance: Instance
) -> None:
    create_backup(instance)
    page = sign_in(app.test_client(), "admin", PASSWORD).get("/admin/monitoring").text
    assert 'role="alert"' not in page


def test_the_page_warns_when_jobs_are_failing(app: Flask, instance: Instance) -> None:
    create_backup(instance)
    now = datetime.now(UTC)
    with write_transaction(instance.engine) as connection:
        event_id = connection.execute(
            insert(events)
            .values(app_key="demo", form_key="item", record_id=1, kind="created", at=now, data={})
            .returning(events.c.id)
        ).scalar_one()
        connection.execute(
            insert(dead_letters).values(
                subscriber="automations", event_id=event_id, attempts=5, error="boom", failed_at=now
            )
        )
    page = sign_in(app.test_client(), "admin", PASSWORD).get("/admin/monitoring").text
    assert "后台任务失败" in page
    assert "formflow_jobs_failed 1" in scrape(app)
