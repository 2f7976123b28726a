"""The API against its own OpenAPI document, by Schemathesis.

Schemathesis reads ``/api/v1/openapi.json`` from the WSGI app, generates requests from it
(valid ones by the document: values of every field type, filters, sorts, pages) and checks
each response: no server error, a documented status code and content type, documented
headers, and a body that fits the documented schema. It runs for a few forms, once with an
admin's token and once with a sales rep's, whose reach is limited to their own records.

Half of the requests on ``/records/{record_id}`` name a record that exists, so reads,
updates, deletes and restores get past "not found". Examples are bounded so the file stays
well under a minute.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import checks

from formflow.records.access import Actor
from web.test_api import token_for, user_id

FORMS = ("customer", "contact", "product")
USERS = ("admin", "rep1")
EXAMPLES = int(os.environ.get("FORMFLOW_API_EXAMPLES", "25"))
"""Per operation; set FORMFLOW_API_EXAMPLES=500 for a deeper run by hand."""

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
]


def seed(app: Flask, username: str) -> dict[str, int]:
    """A customer, a contact of it and a product, owned by ``username`` where that applies."""
    instance = app.extensions["formflow"]
    service = instance.records("crm_sfa")
    owner = Actor(user_id(app, username), frozenset({"admin"}), is_admin=True)
    customer = service.create(owner, "customer", {"name": "华为技术有限公司", "level": "A"})
    contact = service.create(owner, "contact", {"customer": customer["id"], "name": "张三"})
    product = service.create(
        Actor.system(),
        "product",
        {"code": "P-1", "name": "CRM seat", "category": "software", "list_price": "99.00"},
    )
    return {"customer": customer["id"], "contact": contact["id"], "product": product["id"]}


@pytest.mark.slow
@pytest.mark.parametrize("username", USERS)
@pytest.mark.parametrize("form_key", FORMS)
def test_the_api_keeps_to_its_document(app: Flask, form_key: str, username: str) -> None:
    record_ids = seed(app, username)
    headers = {"Authorization": f"Bearer {token_for(app, username)}"}
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, headers=headers)
    operations = schema.include(tag=f"crm_sfa.{form_key}")
    answers: Counter[tuple[str, int]] = Counter()
    for result in operations.get_all_operations():
        operation = result.ok()
        strategy: Any = operation.as_strategy()
        if "{record_id}" in operation.path:
            known = operation.as_strategy(path_parameters={"record_id": record_ids[form_key]})
            strategy = st.one_of(strategy, known)
        _run(strategy, headers, answers)
    print(sorted(answers.items()))  # shown on failure: which answers the run got
    assert len({label for label, _status in answers}) == 10  # with search, export, import
    assert any(status < 300 for _label, status in answers)


def _run(strategy: Any, headers: dict[str, str], answers: Counter[tuple[str, int]]) -> None:
    @given(case=strategy)
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any) -> None:
        response = case.call_and_validate(headers=headers, checks=CHECKS)
        answers[(f"{case.method} {case.path}", response.status_code)] += 1

    check()
