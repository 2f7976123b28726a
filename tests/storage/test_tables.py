"""Tables built from the compiled model, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, inspect

from formflow.definitions import App, load_app
from formflow.storage.tables import (
    DELETED_AT,
    DEPARTMENT,
    AppSchema,
    derived_index_keys,
    identifier,
)
from support import CRM_APP, EVERY_TYPE_APP


@pytest.fixture(scope="module")
def crm() -> App:
    return load_app(CRM_APP)


def test_every_form_and_subtable_becomes_a_table(engine: Engine, crm: App) -> None:
    schema = AppSchema(crm)
    schema.metadata.create_all(engine)
    names = set(inspect(engine).get_table_names())
    assert {f"crm_sfa__{key}" for key in crm.forms} <= names
    assert "crm_sfa__quote__items" in names
    assert {"ff_users", "ff_departments", "ff_audit_log", "ff_counters"} <= names


def test_links_become_foreign_keys(engine: Engine, crm: App) -> None:
    AppSchema(crm).metadata.create_all(engine)
    foreign_keys = inspect(engine).get_foreign_keys("crm_sfa__contact")
    targets = {
        fk["referred_table"] for fk in foreign_keys if fk["constrained_columns"] == ["customer"]
    }
    assert targets == {"crm_sfa__customer"}


def test_filter_fields_lead_indexes_followed_by_the_default_sort(crm: App) -> None:
    form = crm.form("opportunity")
    sort = form.list_view.sort
    indexes = [keys for keys, _unique in derived_index_keys(form)]
    for key in form.list_view.filters:
        assert any(keys[0].field == key and keys[1 : 1 + len(sort)] == sort for keys in indexes), (
            key
        )


def test_long_names_are_shortened_to_63_characters() -> None:
    name = identifier("a" * 40, "b" * 40)
    assert len(name) == 63
    assert name != identifier("a" * 40, "b" * 39 + "c")


def test_the_department_scope_has_an_index_followed_by_the_default_sort(crm: App) -> None:
    form = crm.form("customer")
    indexes = [keys for keys, _unique in derived_index_keys(form)]
    sort = form.list_view.sort
    assert any(
        keys[0].field == "_department_id" and keys[1 : 1 + len(sort)] == sort for keys in indexes
    )


def test_a_field_of_every_type_can_be_a_list_filter(engine: Engine) -> None:
    """A multiselect filter gets no index: a JSON list has no order a B-tree could keep."""
    app = load_app(EVERY_TYPE_APP)
    AppSchema(app).metadata.create_all(engine)
    indexed = {keys[0].field for keys, _unique in derived_index_keys(app.form("thing"))}
    assert "tags" not in indexed
    assert {"stage", "owner", "amount", "day"} <= indexed


def test_a_dashboards_covering_index_holds_the_department_and_deleted_mark_too(crm: App) -> None:
    """SQLite answers from a partial index alone only when it holds every column read,
    the scope's department and the deleted mark included."""
    found = [
        tuple(k.field for k in keys) for keys, _ in derived_index_keys(crm.form("opportunity"))
    ]
    assert (
        "stage",
        "actual_close_date",
        "amount",
        "owner",
        "source",
        DEPARTMENT,
        DELETED_AT,
        "id",
    ) in found
