"""An instance made by an older Formflow gets the platform tables and columns added since."""

from __future__ import annotations

from sqlalchemy import Engine, inspect, text

from formflow.storage.platform_tables import platform_metadata, upgrade_platform_tables


def older_instance(engine: Engine) -> None:
    """Platform tables as a version without events, dead letters and token expiry left them."""
    platform_metadata.create_all(engine)
    with engine.begin() as connection:
        for table in (
            "ff_dead_letters",
            "ff_event_deliveries",
            "ff_event_subscribers",
            "ff_events",
        ):
            connection.execute(text(f"DROP TABLE {table}"))
        connection.execute(text("ALTER TABLE ff_api_tokens DROP COLUMN expires_at"))


def test_missing_tables_and_columns_are_added(engine: Engine) -> None:
    older_instance(engine)
    added = upgrade_platform_tables(engine)
    assert set(added) == {
        "ff_events",
        "ff_event_deliveries",
        "ff_event_subscribers",
        "ff_dead_letters",
        "ff_api_tokens.expires_at",
    }
    columns = {column["name"] for column in inspect(engine).get_columns("ff_api_tokens")}
    assert "expires_at" in columns


def test_an_instance_up_to_date_is_left_alone(engine: Engine) -> None:
    platform_metadata.create_all(engine)
    assert upgrade_platform_tables(engine) == []
