"""Full-text search: Chinese and English alike, on SQLite (FTS5) and PostgreSQL (GIN)."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, inspect, select

from formflow.errors import QueryError
from formflow.records.query import Page, Query, select_page
from formflow.records.reading import ReadContext
from formflow.records.search import (
    ensure_search_index,
    search_condition,
    search_document,
    search_tokens,
)
from formflow.storage.database import read_transaction, write_transaction
from formflow.storage.tables import DELETED_AT, SEARCH, AppSchema
from records.helpers import create_lab, insert, lab_schema, soft_delete

DEALS = [
    {"name": "华为技术有限公司", "notes": "年度框架协议"},
    {"name": "Huawei Cloud", "notes": "Migration to the cloud"},
    {"name": "阿里巴巴", "notes": "技术支持合同"},
    {"name": "Acme 50% off", "notes": None},
    {"name": "Ｆｕｌｌ width ＡＢＣ１２３", "notes": "Café crème"},
]


# documents and tokens -----------------------------------------------------------


def test_chinese_runs_become_bigrams_and_single_characters() -> None:
    assert search_document(["华为技术"]).split() == ["华为", "为技", "技术", "华", "为", "技", "术"]


def test_latin_words_stay_words_in_lower_case() -> None:
    assert search_document(["Huawei Cloud-2026", None, "cloud"]) == "huawei cloud 2026"


def test_mixed_text_splits_where_the_script_changes() -> None:
    assert search_document(["Mate60手机"]).split() == ["mate60", "手机", "手", "机"]


def test_full_width_forms_and_accents_fold_to_plain_letters() -> None:
    assert search_document(["Ｆｕｌｌ ＡＢＣ１２３ Café"]) == "full abc123 cafe"


def test_a_search_needs_only_the_bigrams_of_a_chinese_run() -> None:
    assert search_tokens("华为技术") == (["华为", "为技", "技术"], False)


def test_the_last_latin_word_of_a_search_is_a_prefix() -> None:
    assert search_tokens("华为 Clo") == (["华为", "clo"], True)


def test_a_search_without_letters_or_digits_searches_nothing() -> None:
    assert search_condition(lab_schema(), "deal", " *:- \"' ") is None


def test_a_form_without_search_fields_says_how_to_add_them() -> None:
    with pytest.raises(QueryError, match="form 'memo' has no search fields; list some under"):
        search_condition(lab_schema(), "memo", "x")


def test_search_text_is_limited_in_length() -> None:
    with pytest.raises(QueryError, match="at most 200 characters"):
        search_condition(lab_schema(), "deal", "a" * 201)


# searching a database -----------------------------------------------------------


@pytest.fixture(scope="module")
def lab(db: Engine) -> AppSchema:
    schema = create_lab(db)
    with write_transaction(db) as connection:
        insert(connection, schema, "deal", DEALS)
        [gone] = insert(connection, schema, "deal", [{"name": "华为已删除"}])
        soft_delete(connection, schema, "deal", gone)
    return schema


def found(db: Engine, lab: AppSchema, text: str) -> set[str]:
    table = lab.table("deal")
    condition = search_condition(lab, "deal", text)
    assert condition is not None
    statement = select(table.c.name).where(condition, table.c[DELETED_AT].is_(None))
    with read_transaction(db) as connection:
        return set(connection.scalars(statement))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("华为", {"华为技术有限公司"}),
        ("华", {"华为技术有限公司"}),
        ("为技", {"华为技术有限公司"}),
        ("技术", {"华为技术有限公司", "阿里巴巴"}),
        ("有限公司", {"华为技术有限公司"}),
        ("华为 公司", {"华为技术有限公司"}),
        ("华为 阿里", set()),
        ("HUAWEI", {"Huawei Cloud"}),
        ("hua", {"Huawei Cloud"}),
        ("huawei clo", {"Huawei Cloud"}),
        ("hua cloud", set()),
        ("migration", {"Huawei Cloud"}),
        ("50", {"Acme 50% off"}),
        ("abc123", {"Ｆｕｌｌ width ＡＢＣ１２３"}),
        ("cafe", {"Ｆｕｌｌ width ＡＢＣ１２３"}),
        ("CAFÉ", {"Ｆｕｌｌ width ＡＢＣ１２３"}),
    ],
)
def test_search_finds_records_holding_every_token(
    db: Engine, lab: AppSchema, text: str, expected: set[str]
) -> None:
    assert found(db, lab, text) == expected


HOSTILE = [
    "huawei\"'",
    'huawei" OR "cloud',
    "huawei OR 阿里",
    "NOT huawei",
    "NEAR(huawei cloud)",
    "huawei*",
    "name:huawei",
    "-huawei",
    "huawei & !cloud | x",
    "huawei:* & cloud",
    "'; DROP TABLE lab__deal; --",
    "huawei\\",
    "^huawei",
    "{name notes}: huawei",
    "(huawei",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_query_syntax_in_search_text_is_only_searched_for(
    db: Engine, lab: AppSchema, text: str
) -> None:
    page = search_page(db, lab, text)
    assert {row["name"] for row in page.rows} <= {"Huawei Cloud", "阿里巴巴"}
    assert "lab__deal" in inspect(db).get_table_names()


@pytest.mark.parametrize("text", ['"', "'", "*", "\\", "--", "()"])
def test_a_search_of_punctuation_only_lists_every_record(
    db: Engine, lab: AppSchema, text: str
) -> None:
    assert len(search_page(db, lab, text).rows) == len(DEALS)


def test_operators_are_words_that_must_match(db: Engine, lab: AppSchema) -> None:
    assert search_page(db, lab, "huawei OR 阿里").rows == []


def test_a_list_search_leaves_out_deleted_records(db: Engine, lab: AppSchema) -> None:
    assert [row["name"] for row in search_page(db, lab, "华为").rows] == ["华为技术有限公司"]


def search_page(db: Engine, lab: AppSchema, text: str) -> Page:
    with read_transaction(db) as connection:
        return select_page(ReadContext(connection, lab, "deal"), Query(search=text))


# keeping the index -------------------------------------------------------------


def test_records_stored_before_the_index_are_found(engine: Engine) -> None:
    schema = lab_schema()
    schema.metadata.create_all(engine)
    with write_transaction(engine) as connection:
        insert(connection, schema, "deal", [{"name": "华为"}])
        ensure_search_index(connection, schema, "deal")
    assert found(engine, schema, "华为") == {"华为"}


def test_ensuring_the_index_again_changes_nothing(engine: Engine) -> None:
    schema = create_lab(engine)
    with write_transaction(engine) as connection:
        insert(connection, schema, "deal", [{"name": "华为"}])
        ensure_search_index(connection, schema, "deal")
        ensure_search_index(connection, schema, "deal")
    assert search_ids(engine, schema, "华为") == [1]


def test_a_changed_document_is_found_by_its_new_words_only(engine: Engine) -> None:
    schema = create_lab(engine)
    table = schema.table("deal")
    with write_transaction(engine) as connection:
        insert(connection, schema, "deal", [{"name": "华为"}])
        connection.execute(table.update().values({SEARCH: search_document(["阿里巴巴"])}))
    assert (found(engine, schema, "华为"), found(engine, schema, "阿里")) == (set(), {"华为"})


def test_an_update_that_keeps_the_search_text_leaves_the_index_alone(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite's index is kept by triggers; PostgreSQL's GIN index by itself")
    schema = create_lab(engine)
    table = schema.table("deal")
    with write_transaction(engine) as connection:
        insert(connection, schema, "deal", [{"name": "华为"}])
        sqlite = connection.connection.dbapi_connection
        assert sqlite is not None
        before = sqlite.total_changes
        connection.execute(table.update().values({SEARCH: search_document(["华为"])}))
        assert sqlite.total_changes - before == 1  # the row alone, no tokens taken out and back
    assert found(engine, schema, "华为") == {"华为"}


def search_ids(engine: Engine, schema: AppSchema, text: str) -> list[int]:
    table = schema.table("deal")
    condition = search_condition(schema, "deal", text)
    assert condition is not None
    with read_transaction(engine) as connection:
        return list(connection.scalars(select(table.c.id).where(condition)))


def test_ensuring_the_index_stays_inside_the_callers_transaction(engine: Engine) -> None:
    schema = lab_schema()
    schema.metadata.create_all(engine)

    def insert_index_and_fail() -> None:
        with write_transaction(engine) as connection:
            insert(connection, schema, "deal", [{"name": "华为"}])
            ensure_search_index(connection, schema, "deal")
            raise RuntimeError("roll back")

    with pytest.raises(RuntimeError, match="roll back"):
        insert_index_and_fail()
    with read_transaction(engine) as connection:
        assert connection.scalars(select(schema.table("deal").c.id)).all() == []


def test_a_form_without_search_fields_needs_no_index(engine: Engine) -> None:
    schema = lab_schema()
    schema.metadata.create_all(engine)
    with write_transaction(engine) as connection:
        ensure_search_index(connection, schema, "memo")
    assert not any(
        "memo" in name and name != "lab__memo" for name in inspect(engine).get_table_names()
    )
