"""The OpenAPI document: valid OpenAPI 3.1, complete, and true to the definitions."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from schemathesis.specs.openapi.definitions import OPENAPI_31

from formflow.definitions.model import SYSTEM_FIELDS, App
from formflow.errors import QueryError
from formflow.fields import ValueKind
from formflow.fields.json_values import DECIMAL_PATTERN
from formflow.records.filters import operators, resolve_field
from formflow.storage.stays import tracked_fields
from formflow.web import openapi
from web.test_api import token_for

METHODS = ("get", "post", "patch", "delete")


def bearer(app: Flask, username: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(app, username)}"}


@pytest.fixture
def document(app: Flask, client: FlaskClient) -> dict[str, Any]:
    """The whole document, as an administrator (from whom no field is hidden) reads it."""
    response = client.get("/api/v1/openapi.json", headers=bearer(app, "admin"))
    assert response.status_code == 200
    found: dict[str, Any] = response.json
    return found


@pytest.fixture
def crm(app: Flask) -> App:
    found: App = app.extensions["formflow"].app("crm_sfa")
    return found


def schema(document: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = document["components"]["schemas"][name]
    return found


# valid OpenAPI --------------------------------------------------------------------


def test_the_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1.")
    errors = sorted(Draft202012Validator(OPENAPI_31).iter_errors(document), key=str)
    assert [f"{list(e.absolute_path)}: {e.message}" for e in errors] == []


def test_every_schema_is_a_valid_json_schema(document: dict[str, Any]) -> None:
    inline = [value for key, value in _walk(document["paths"]) if key == "schema"]
    for found in [*document["components"]["schemas"].values(), *inline]:
        Draft202012Validator.check_schema(found)


def test_every_reference_resolves(document: dict[str, Any]) -> None:
    resolver = Registry().with_resource("", Resource.opaque(document)).resolver()
    refs = sorted({value for key, value in _walk(document) if key == "$ref"})
    assert refs
    for ref in refs:
        resolver.lookup(ref)


def test_the_document_needs_no_token_and_is_cached(app: Flask, client: FlaskClient) -> None:
    first = client.get("/api/v1/openapi.json")
    assert first.mimetype == "application/json"
    assert client.get("/api/v1/openapi.json").data == first.data
    ((digests, _hidden),) = app.extensions["formflow.openapi.readers"]
    assert digests == (("crm_sfa", app.extensions["formflow"].app("crm_sfa").digest),)


def test_a_reader_without_a_token_is_told_no_field_hidden_from_any_role(
    client: FlaskClient,
) -> None:
    text = client.get("/api/v1/openapi.json").text
    assert "floor_price" not in text
    assert "list_price" in text


def test_a_token_s_user_is_told_no_field_hidden_from_their_roles(
    app: Flask, client: FlaskClient
) -> None:
    rep = client.get("/api/v1/openapi.json", headers=bearer(app, "rep1"))
    assert "floor_price" not in rep.text
    manager = client.get("/api/v1/openapi.json", headers=bearer(app, "manager")).json
    assert "floor_price" in schema(manager, "CrmSfa_Product_Record")["properties"]


def test_a_changed_definition_gets_a_new_document(app: Flask, client: FlaskClient) -> None:
    cached = app.extensions.setdefault("formflow.openapi.readers", {})
    cached[((("crm_sfa", "stale digest"),), ())] = '{"stale": true}'
    assert "paths" in client.get("/api/v1/openapi.json").json
    assert all(digests != (("crm_sfa", "stale digest"),) for digests, _hidden in cached)


# complete -------------------------------------------------------------------------


def test_every_form_has_its_paths_tag_and_schemas(document: dict[str, Any], crm: App) -> None:
    tags = {tag["name"] for tag in document["tags"]}
    for form in crm.forms.values():
        base = f"/crm_sfa/{form.key}/records"
        assert set(document["paths"][base]) == {"get", "post"}
        assert set(document["paths"][f"{base}/{{record_id}}"]) == {
            "parameters",
            "get",
            "patch",
            "delete",
        }
        assert "post" in document["paths"][f"{base}/{{record_id}}/restore"]
        assert "get" in document["paths"][f"{base}/{{record_id}}/history"]
        assert f"crm_sfa.{form.key}" in tags
        name = openapi.component_name(crm, form, "")
        for suffix in ("Record", "Input", "Update", "Page", "Filter"):
            assert f"{name}{suffix}" in document["components"]["schemas"]
    assert openapi.component_name(crm, crm.form("sales_target"), "Record") == (
        "CrmSfa_SalesTarget_Record"
    )


def test_operation_ids_are_unique(document: dict[str, Any]) -> None:
    ids = [op["operationId"] for path in document["paths"].values() for op in _operations(path)]
    assert len(ids) == len(set(ids))


def test_every_error_response_has_the_error_shape(document: dict[str, Any]) -> None:
    responses = document["components"]["responses"]
    for path in document["paths"].values():
        for operation in _operations(path):
            for status, response in operation["responses"].items():
                if int(status) < 400 or status == "414":  # 414: the HTTP server's own answer
                    continue
                name = response["$ref"].rsplit("/", 1)[-1]
                content = responses[name]["content"]["application/json"]
                assert content["schema"] == {"$ref": "#/components/schemas/Error"}
    assert "WWW-Authenticate" in responses["Unauthorized"]["headers"]


def test_everything_but_the_document_needs_a_bearer_token(document: dict[str, Any]) -> None:
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": document["components"]["securitySchemes"]["bearerAuth"]["description"],
    }
    assert document["security"] == [{"bearerAuth": []}]
    assert document["paths"]["/openapi.json"]["get"]["security"] == []
    assert document["servers"] == [{"url": "/api/v1"}]


# true to the definitions -----------------------------------------------------------


def test_a_record_has_every_field_typed_and_the_system_fields(
    document: dict[str, Any], crm: App
) -> None:
    record = schema(document, "CrmSfa_Customer_Record")
    properties = record["properties"]
    assert set(properties) == {"id", *(f.key for f in crm.form("customer").fields), *SYSTEM_FIELDS}
    assert properties["name"]["type"] == ["string", "null"]
    assert properties["name"]["maxLength"] == 200
    assert properties["credit_code"]["pattern"].startswith("^(?:^[0-9A-HJ-NPQRTUWXY]{2}")
    assert properties["level"]["enum"] == ["A", "B", "C", "D", None]
    assert properties["next_follow_up"]["format"] == "date"
    assert properties["last_follow_up_at"]["format"] == "date-time"
    assert properties["owner"]["type"] == ["integer", "null"]
    assert properties["version"] == {
        "type": "integer",
        "minimum": 1,
        "description": "Goes up by one per change.",
    }
    assert record["additionalProperties"] is False
    assert set(record["required"]) == set(properties)


def test_decimals_are_strings_with_a_pattern(document: dict[str, Any]) -> None:
    price = schema(document, "CrmSfa_Product_Record")["properties"]["list_price"]
    assert price["type"] == ["string", "null"]
    assert re.fullmatch(price["pattern"][1:-1], "1234.50")
    assert not re.fullmatch(price["pattern"][1:-1], "1E+3")
    written = schema(document, "CrmSfa_Product_Input")["properties"]["list_price"]
    assert written["type"] == ["string", "number"]  # required: never null
    assert written["minimum"] == 0


def test_multiselects_subtables_and_attachments_are_arrays(document: dict[str, Any]) -> None:
    quote = schema(document, "CrmSfa_Quote_Record")
    items = quote["properties"]["items"]
    assert items["type"] == "array"
    assert "items" not in quote["required"]  # list pages leave rows out
    assert items["items"]["properties"]["line_total"]["pattern"] == DECIMAL_PATTERN
    follow_up = schema(document, "CrmSfa_FollowUp_Record")["properties"]["attachments"]
    assert follow_up["items"] == {"$ref": "#/components/schemas/Attachment"}
    multiselects = [
        (name, key)
        for name, found in document["components"]["schemas"].items()
        if name.endswith("_Record")
        for key, value in found["properties"].items()
        if "array" in value.get("type", []) and "enum" in value.get("items", {})
    ]
    for name, key in multiselects:
        assert schema(document, name)["properties"][key]["uniqueItems"] is True


def test_input_holds_only_what_people_may_set(document: dict[str, Any], crm: App) -> None:
    for form in crm.forms.values():
        written = schema(document, openapi.component_name(crm, form, "Input"))["properties"]
        for field in form.fields:
            assert (field.key in written) == (not field.readonly), (form.key, field.key)
        assert not set(SYSTEM_FIELDS) & set(written)
    update = schema(document, "CrmSfa_Customer_Update")
    assert "version" in update["properties"]
    assert "required" not in update  # the version may come as If-Match instead


def test_only_unconditionally_required_fields_are_required(
    document: dict[str, Any], crm: App
) -> None:
    assert schema(document, "CrmSfa_Customer_Input")["required"] == ["name"]  # status has a default
    assert schema(document, "CrmSfa_Contact_Input")["required"] == ["customer", "name"]
    for form in crm.forms.values():
        required = schema(document, openapi.component_name(crm, form, "Input")).get("required", [])
        for key in required:
            field = form.field(key)
            assert field.required
            assert field.required_if is None
            assert field.visible_if is None
    conditional = [
        (form.key, field.key)
        for form in crm.forms.values()
        for field in form.fields
        if field.required_if is not None
    ]
    assert conditional  # the CRM has some: they are described, never required
    for form_key, key in conditional:
        form = crm.form(form_key)
        written = schema(document, openapi.component_name(crm, form, "Input"))
        assert key not in written.get("required", [])
        assert "Required when" in written["properties"][key]["description"]


def test_the_filter_schema_offers_the_operators_the_filter_compiler_takes(
    app: Flask, document: dict[str, Any], crm: App
) -> None:
    app_schema = app.extensions["formflow"].schema("crm_sfa")
    for form in crm.forms.values():
        conditions = schema(document, openapi.component_name(crm, form, "Condition"))["anyOf"]
        offered: dict[str, set[str]] = {}
        for c in conditions:
            if "const" in c.get("properties", {}).get("field", {}):
                ops = offered.setdefault(c["properties"]["field"]["const"], set())
                ops.update(c["properties"]["op"]["enum"])
        for key in [*SYSTEM_FIELDS, *(f.key for f in form.fields)]:
            try:
                ref = resolve_field(app_schema, form.key, key, purpose="filter")
            except QueryError:
                assert key not in offered
                continue
            ever = {"ever"} if key in tracked_fields(crm).get(form.key, ()) else set()
            assert offered[key] == set(operators(ref)) | ever, (form.key, key)


def test_a_filter_may_name_the_fields_of_a_linked_form_and_no_other_dotted_key(
    app: Flask, document: dict[str, Any], crm: App
) -> None:
    app_schema = app.extensions["formflow"].schema("crm_sfa")
    for form in crm.forms.values():
        conditions = schema(document, openapi.component_name(crm, form, "Condition"))["anyOf"]
        offered = {
            c["properties"]["field"]["const"]
            for c in conditions
            if "." in c.get("properties", {}).get("field", {}).get("const", "")
        }
        expected = set()
        for link in form.fields:
            if link.type != "link" or link.target_form is None:
                continue
            target = crm.form(link.target_form)
            for key in [*SYSTEM_FIELDS, *(f.key for f in target.fields)]:
                try:
                    resolve_field(app_schema, target.key, key, purpose="filter")
                except QueryError:
                    continue
                expected.add(f"{link.key}.{key}")
        assert offered == expected, form.key


def test_a_written_decimal_has_the_fields_scale_and_at_most_18_whole_digits(
    document: dict[str, Any],
) -> None:
    written = schema(document, "CrmSfa_Product_Input")["properties"]["list_price"]
    fits = [bool(re.search(written["pattern"], text)) for text in ("12.5", "12.50", "12.500")]
    assert fits == [True, True, True]  # zeros past the scale change nothing
    assert not re.search(written["pattern"], "12.505")
    assert not re.search(written["pattern"], "1" * 19)
    assert written["exclusiveMaximum"] == 10**18


def test_a_list_url_too_long_for_the_server_points_to_search(document: dict[str, Any]) -> None:
    answer = document["paths"]["/crm_sfa/product/records"]["get"]["responses"]["414"]
    assert "POST /crm_sfa/product/search" in answer["description"]


def test_the_sort_parameter_names_the_sortable_fields(
    app: Flask, document: dict[str, Any], crm: App
) -> None:
    app_schema = app.extensions["formflow"].schema("crm_sfa")
    for form in crm.forms.values():
        parameters = document["paths"][f"/crm_sfa/{form.key}/records"]["get"]["parameters"]
        pattern = next(p for p in parameters if p["name"] == "sort")["schema"]["pattern"]
        for field in form.fields:
            try:
                resolve_field(app_schema, form.key, field.key, purpose="sort")
                sortable = field.kind is not ValueKind.ROWS
            except QueryError:
                sortable = False
            assert bool(re.fullmatch(pattern, f"-{field.key},id")) == sortable, field.key
        assert re.fullmatch(pattern, "")


# helpers --------------------------------------------------------------------------


def _operations(path: dict[str, Any]) -> Iterator[dict[str, Any]]:
    return (path[method] for method in METHODS if method in path)


def _walk(value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield key, item
            yield from _walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item)
