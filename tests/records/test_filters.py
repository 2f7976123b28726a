"""The filter language: each operator on each kind of field, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, Integer, inspect, select
from sqlalchemy import column as sqlalchemy_column
from sqlalchemy.dialects import postgresql, sqlite

from formflow.errors import QueryError
from formflow.records.filters import (
    CHOICE_OPS,
    MAX_CONDITIONS,
    MAX_DEPTH,
    ORDERED_OPS,
    TEXT_OPS,
    DialectSwitch,
    compile_filter,
)
from formflow.storage.database import write_transaction
from formflow.storage.tables import DELETED_AT, AppSchema
from records.helpers import (
    add_users,
    create_lab,
    insert,
    lab_schema,
    soft_delete,
)

ANN, BEN = 1, 2
HUAWEI, ACME, GONE = 1, 2, 3


@pytest.fixture(scope="module")
def lab(db: Engine) -> AppSchema:
    """Six live deals covering every kind of empty value, and one deleted deal."""
    schema = create_lab(db)
    with write_transaction(db) as connection:
        assert add_users(connection, "ann", "ben") == [ANN, BEN]
        companies = [
            {"name": "Huawei", "tier": "gold"},
            {"name": "Acme", "tier": "silver"},
            {"name": "Gone", "tier": "gold"},
        ]
        assert insert(connection, schema, "company", companies) == [HUAWEI, ACME, GONE]
        soft_delete(connection, schema, "company", GONE)
        insert(connection, schema, "deal", DEALS)
        [deleted] = insert(connection, schema, "deal", [{"name": "Deleted Alpha", "stage": "new"}])
        soft_delete(connection, schema, "deal", deleted)
    return schema


DEALS: list[dict[str, Any]] = [
    {
        "name": "Alpha",
        "stage": "new",
        "tags": ["red", "green"],
        "amount": Decimal("100.00"),
        "quantity": 1,
        "weight": Decimal("1.500"),
        "close_date": date(2026, 1, 10),
        "met_at": datetime(2026, 1, 10, 8, 0, tzinfo=UTC),
        "active": True,
        "owner": ANN,
        "company": HUAWEI,
    },
    {
        "name": "Beta 50%_off",
        "stage": "won",
        "tags": ["blue"],
        "amount": Decimal("250.50"),
        "quantity": 5,
        "weight": Decimal("0.250"),
        "close_date": date(2026, 2, 1),
        "met_at": datetime(2026, 2, 1, 12, 0, tzinfo=UTC),
        "active": False,
        "owner": BEN,
        "company": ACME,
    },
    {"name": "gamma", "tags": [], "notes": "no stage"},
    {"name": "", "tags": None},  # JSON null
    {"name": None},  # SQL NULL everywhere
    {"name": "Delta", "amount": Decimal("-5.25"), "quantity": 0, "company": GONE},
]
EVERYONE = {"Alpha", "Beta 50%_off", "gamma", "", None, "Delta"}


def matching(engine: Engine, schema: AppSchema, spec: Any) -> set[str | None]:
    table = schema.table("deal")
    statement = select(table.c.name).where(table.c[DELETED_AT].is_(None))
    condition = compile_filter(schema, "deal", spec)
    if condition is not None:
        statement = statement.where(condition)
    with engine.connect() as connection:
        return set(connection.scalars(statement))


def cond(field: str, op: str, value: Any = None) -> dict[str, Any]:
    return (
        {"field": field, "op": op} if value is None else {"field": field, "op": op, "value": value}
    )


OPERATORS = [
    # text
    (cond("name", "eq", "Alpha"), {"Alpha"}),
    (cond("name", "ne", "Alpha"), EVERYONE - {"Alpha"}),
    (cond("name", "in", ["Alpha", "gamma"]), {"Alpha", "gamma"}),
    (cond("name", "not_in", ["Alpha", "gamma"]), EVERYONE - {"Alpha", "gamma"}),
    (cond("name", "contains", "LPH"), {"Alpha"}),
    (cond("name", "contains", "50%_"), {"Beta 50%_off"}),
    (cond("name", "contains", "%"), {"Beta 50%_off"}),
    (cond("name", "starts_with", "be"), {"Beta 50%_off"}),
    (cond("name", "ends_with", "MMA"), {"gamma"}),
    (cond("name", "is_empty"), {"", None}),
    (cond("name", "is_not_empty"), {"Alpha", "Beta 50%_off", "gamma", "Delta"}),
    # select
    (cond("stage", "eq", "won"), {"Beta 50%_off"}),
    (cond("stage", "ne", "won"), EVERYONE - {"Beta 50%_off"}),
    (cond("stage", "in", ["new", "won"]), {"Alpha", "Beta 50%_off"}),
    (cond("stage", "not_in", ["new"]), EVERYONE - {"Alpha"}),
    (cond("stage", "is_empty"), EVERYONE - {"Alpha", "Beta 50%_off"}),
    # multiselect
    (cond("tags", "has_any", ["red", "blue"]), {"Alpha", "Beta 50%_off"}),
    (cond("tags", "has_any", ["green"]), {"Alpha"}),
    (cond("tags", "has_all", ["green", "red"]), {"Alpha"}),
    (cond("tags", "has_all", ["red", "blue"]), set()),
    (cond("tags", "is_empty"), EVERYONE - {"Alpha", "Beta 50%_off"}),
    (cond("tags", "is_not_empty"), {"Alpha", "Beta 50%_off"}),
    # money, from text as forms send it
    (cond("amount", "eq", "100.00"), {"Alpha"}),
    (cond("amount", "eq", 100), {"Alpha"}),
    (cond("amount", "ne", "100"), EVERYONE - {"Alpha"}),
    (cond("amount", "gt", "100"), {"Beta 50%_off"}),
    (cond("amount", "gte", "100"), {"Alpha", "Beta 50%_off"}),
    (cond("amount", "lt", 0), {"Delta"}),
    (cond("amount", "lte", "100.0"), {"Alpha", "Delta"}),
    (cond("amount", "between", ["100", "250.50"]), {"Alpha", "Beta 50%_off"}),
    (cond("amount", "in", ["250.5", "-5.25"]), {"Beta 50%_off", "Delta"}),
    (cond("amount", "not_in", ["250.5"]), EVERYONE - {"Beta 50%_off"}),
    (cond("amount", "is_empty"), {"gamma", "", None}),
    # whole and decimal numbers
    (cond("quantity", "eq", "5"), {"Beta 50%_off"}),
    (cond("quantity", "lt", 1), {"Delta"}),
    (cond("quantity", "between", [0, 1]), {"Alpha", "Delta"}),
    (cond("quantity", "between", [1, 0]), set()),  # as SQL: a range above its end is empty
    (cond("quantity", "is_not_empty"), {"Alpha", "Beta 50%_off", "Delta"}),
    (cond("weight", "gt", 0.3), {"Alpha"}),
    (cond("weight", "eq", "0.25"), {"Beta 50%_off"}),
    # dates and date-times (naive date-times are UTC)
    (cond("close_date", "eq", "2026-01-10"), {"Alpha"}),
    (cond("close_date", "lt", "2026-02-01"), {"Alpha"}),
    (cond("close_date", "between", ["2026-01-01", "2026-12-31"]), {"Alpha", "Beta 50%_off"}),
    (cond("close_date", "is_empty"), EVERYONE - {"Alpha", "Beta 50%_off"}),
    (cond("met_at", "eq", "2026-01-10T09:00:00+01:00"), {"Alpha"}),
    (cond("met_at", "gt", "2026-01-10T09:00:00+01:00"), {"Beta 50%_off"}),
    (cond("met_at", "gte", "2026-01-10T08:00:00"), {"Alpha", "Beta 50%_off"}),
    (cond("met_at", "lte", "2026-01-10"), set()),
    # bool
    (cond("active", "eq", True), {"Alpha"}),
    (cond("active", "eq", "false"), {"Beta 50%_off"}),
    (cond("active", "ne", True), EVERYONE - {"Alpha"}),
    (cond("active", "is_empty"), EVERYONE - {"Alpha", "Beta 50%_off"}),
    # references: users and links
    (cond("owner", "eq", ANN), {"Alpha"}),
    (cond("owner", "in", [str(ANN), BEN]), {"Alpha", "Beta 50%_off"}),
    (cond("owner", "ne", ANN), EVERYONE - {"Alpha"}),
    (cond("company", "eq", HUAWEI), {"Alpha"}),
    (cond("company", "is_empty"), {"gamma", "", None}),
    # one hop across a link, to live target records only
    (cond("company.name", "eq", "Huawei"), {"Alpha"}),
    (cond("company.name", "contains", "CM"), {"Beta 50%_off"}),
    (cond("company.tier", "in", ["gold"]), {"Alpha"}),
    (cond("company.id", "eq", GONE), set()),
    # system fields
    (cond("id", "in", [1, 2]), {"Alpha", "Beta 50%_off"}),
    (cond("version", "eq", 1), EVERYONE),
    (cond("created_at", "lt", "2026-01-15T09:00:00Z"), set()),
    (cond("created_by", "is_empty"), EVERYONE),
]


@pytest.mark.parametrize(
    ("spec", "expected"),
    OPERATORS,
    ids=[f"{spec['field']} {spec['op']} {spec.get('value', '')}" for spec, _ in OPERATORS],
)
def test_operator_selects_the_matching_records(
    db: Engine, lab: AppSchema, spec: dict[str, Any], expected: set[str | None]
) -> None:
    assert matching(db, lab, spec) == expected


def test_conditions_combine_with_and(db: Engine, lab: AppSchema) -> None:
    spec = {"and": [cond("amount", "gt", 0), cond("stage", "eq", "won")]}
    assert matching(db, lab, spec) == {"Beta 50%_off"}


def test_conditions_combine_with_or(db: Engine, lab: AppSchema) -> None:
    spec = {"or": [cond("amount", "lt", 0), cond("stage", "eq", "won")]}
    assert matching(db, lab, spec) == {"Beta 50%_off", "Delta"}


def test_not_is_the_exact_complement_including_empty_values(db: Engine, lab: AppSchema) -> None:
    spec = {"not": cond("amount", "gt", 0)}
    assert matching(db, lab, spec) == EVERYONE - {"Alpha", "Beta 50%_off"}


def test_not_over_a_linked_condition_keeps_records_without_a_link(
    db: Engine, lab: AppSchema
) -> None:
    spec = {"not": cond("company.name", "eq", "Huawei")}
    assert matching(db, lab, spec) == EVERYONE - {"Alpha"}


def test_groups_nest(db: Engine, lab: AppSchema) -> None:
    spec = {
        "or": [
            {"and": [cond("stage", "eq", "new"), {"not": cond("active", "eq", False)}]},
            cond("name", "eq", "gamma"),
        ]
    }
    assert matching(db, lab, spec) == {"Alpha", "gamma"}


def test_an_empty_and_matches_everything_and_an_empty_or_nothing(
    db: Engine, lab: AppSchema
) -> None:
    assert matching(db, lab, {"and": []}) == EVERYONE
    assert matching(db, lab, {"or": []}) == set()


def test_no_filter_compiles_to_nothing(lab: AppSchema) -> None:
    assert compile_filter(lab, "deal", None) is None
    assert compile_filter(lab, "deal", {}) is None


def test_values_are_bound_parameters_never_sql(db: Engine, lab: AppSchema) -> None:
    hostile = "x'; DROP TABLE lab__deal; --"
    condition = compile_filter(lab, "deal", cond("name", "contains", hostile))
    assert condition is not None
    assert "DROP" not in str(condition.compile(db))
    assert matching(db, lab, cond("name", "eq", hostile)) == set()
    assert "lab__deal" in inspect(db).get_table_names()


def refusal(spec: Any) -> QueryError:
    with pytest.raises(QueryError) as caught:
        compile_filter(lab_schema(), "deal", spec)
    return caught.value


def test_an_operator_that_does_not_fit_names_those_that_do() -> None:
    error = refusal(cond("amount", "contains", "1"))
    assert str(error) == (
        "operator 'contains' does not apply to money field 'amount'; "
        "use eq, ne, lt, lte, gt, gte, between, in, not_in, is_empty, is_not_empty"
    )
    assert error.field == "amount"


def test_a_select_field_compares_whole_options_only() -> None:
    assert "use eq, ne, in, not_in, is_empty, is_not_empty" in str(
        refusal(cond("stage", "starts_with", "w"))
    )


def test_a_multiselect_is_asked_with_has_any_or_has_all() -> None:
    assert "use has_any, has_all, is_empty, is_not_empty" in str(refusal(cond("tags", "eq", "red")))


def test_an_unknown_field_suggests_the_nearest_key() -> None:
    error = refusal(cond("amout", "eq", 1))
    assert str(error) == "unknown field 'amout' in form 'deal'; did you mean 'amount'?"
    assert error.field == "amout"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (cond("amount", "eq", "abc"), "'abc' is not a number, as money field 'amount' needs"),
        (cond("quantity", "eq", "1.5"), "'1.5' is not a whole number"),
        (cond("close_date", "eq", "31/01/2026"), "is not a date written YYYY-MM-DD"),
        (cond("close_date", "eq", 20260131), "20260131 is not a date written YYYY-MM-DD"),
        (cond("met_at", "eq", ["2026-01-31"]), "is not a date and time written like"),
        (cond("met_at", "gt", "soon"), "is not a date and time written like"),
        (cond("active", "eq", "maybe"), "'maybe' is not true or false"),
        (cond("owner", "eq", -1), "-1 is not a record id"),
        (cond("name", "eq", True), "True is not text"),
        (cond("stage", "eq", "closed"), "'closed' is not an option of select field 'stage'"),
        (cond("tags", "has_any", ["pink"]), "use one of red, green, blue"),
        (cond("amount", "eq", "NaN"), "'NaN' is not a number"),
    ],
)
def test_a_value_that_does_not_convert_is_refused(spec: dict[str, Any], message: str) -> None:
    error = refusal(spec)
    assert message in str(error)
    assert error.field == spec["field"]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (cond("name", "eq"), "text field 'name' needs a value here; use is_empty"),
        (cond("name", "is_empty", "x"), "operator 'is_empty' takes no value"),
        (cond("name", "in", "Alpha"), "operator 'in' needs a list of 1 to 1000 values"),
        (cond("name", "in", []), "operator 'in' needs a list of 1 to 1000 values"),
        (cond("id", "in", list(range(1, 1002))), "takes at most 1000 values, got 1001"),
        (cond("amount", "between", [1]), "operator 'between' needs a list [low, high]"),
    ],
)
def test_a_value_of_the_wrong_shape_is_refused(spec: dict[str, Any], message: str) -> None:
    assert message in str(refusal(spec))


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("notes", "textarea field 'notes' cannot be filtered"),
        ("items", "subtable field 'items' cannot be filtered"),
        ("files", "attachment field 'files' cannot be filtered"),
        ("stage.name", "'stage' is not a link field, so 'stage.name' cannot follow it"),
        ("company.nme", "unknown field 'company.nme' in form 'company'; did you mean 'name'?"),
        ("company.name.x", "unknown field 'company.name.x' in form 'company'"),
    ],
)
def test_a_field_that_cannot_be_filtered_is_refused(key: str, message: str) -> None:
    error = refusal(cond(key, "is_empty"))
    assert str(error).startswith(message)
    assert error.field == key


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (["name"], "a filter must be an object"),
        ({"and": cond("name", "eq", "x")}, "'and' takes a list of filters"),
        ({"and": [], "or": []}, "a filter group has exactly one key"),
        ({"field": "name", "op": "eq", "valeu": "x"}, "unknown keys ['valeu']"),
        ({"field": "name"}, "a condition is {'field': KEY, 'op': OPERATOR, 'value': VALUE}"),
    ],
)
def test_a_malformed_filter_is_refused(spec: Any, message: str) -> None:
    assert message in str(refusal(spec))


def test_nesting_is_limited() -> None:
    spec: dict[str, Any] = cond("name", "eq", "x")
    for _ in range(MAX_DEPTH):
        spec = {"not": spec}
    assert "nests more than 10 levels" in str(refusal(spec))


def test_the_number_of_conditions_is_limited() -> None:
    half = MAX_CONDITIONS // 2 + 1
    spec = {
        "or": [
            {"and": [cond("name", "eq", str(n)) for n in range(half)]},
            {"and": [cond("name", "eq", str(n)) for n in range(half)]},
        ]
    }
    assert "more than 100 conditions" in str(refusal(spec))


def test_a_group_holds_at_most_as_many_filters_as_conditions_are_allowed() -> None:
    spec = {"or": [{"and": []} for _ in range(MAX_CONDITIONS + 1)]}
    assert "'or' holds more than 100 filters" in str(refusal(spec))


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=2)
    ),
    max_leaves=5,
)
KEYS = [
    "name",
    "stage",
    "tags",
    "amount",
    "quantity",
    "close_date",
    "met_at",
    "active",
    "owner",
    "company.name",
    "id",
]
OPS = sorted({*TEXT_OPS, *ORDERED_OPS, *CHOICE_OPS})


@settings(max_examples=150, deadline=None)
@given(key=st.sampled_from(KEYS), op=st.sampled_from(OPS), value=JSON_VALUES)
def test_any_input_compiles_or_is_refused_with_a_query_error(key: str, op: str, value: Any) -> None:
    try:
        condition = compile_filter(lab_schema(), "deal", cond(key, op, value))
    except QueryError:
        return
    assert condition is not None
    for dialect in (sqlite.dialect(), postgresql.psycopg.dialect()):
        condition.compile(dialect=dialect)


def switched(postgresql_choice: Any) -> Any:
    column = sqlalchemy_column("score", Integer)
    return select(column).order_by(
        DialectSwitch(Integer(), sqlite=column.asc(), postgresql=postgresql_choice, grouped=False)
    )


def test_statements_holding_a_dialect_switch_can_be_cached() -> None:
    column = sqlalchemy_column("score", Integer)
    first = switched(column.asc().nulls_first())._generate_cache_key()
    again = switched(column.asc().nulls_first())._generate_cache_key()
    other = switched(column.desc().nulls_last())._generate_cache_key()
    assert first is not None
    assert first == again
    assert first != other
