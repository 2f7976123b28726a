"""What the pages ask of the service for a form still being filled in: checks without a
save, values converted as a save would, and the context expressions read."""

from __future__ import annotations

from decimal import Decimal

import pytest
from shop import People

from formflow.errors import ValidationFailed
from formflow.records import RecordService


def test_check_finds_every_problem_and_saves_nothing(
    service: RecordService, people: People
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        service.check(people.alice, "account", {"code": "bad", "score": 500})
    assert set(caught.value.problems) == {"name", "code", "score"}
    service.check(people.alice, "account", {"name": "Acme"})
    assert service.find(people.alice, "account").rows == []


def test_check_reads_an_update_over_the_stored_record(
    service: RecordService, people: People
) -> None:
    record = service.create(people.alice, "account", {"name": "Acme"})
    service.check(people.alice, "account", {"score": 5}, record)
    with pytest.raises(ValidationFailed) as caught:
        service.check(people.alice, "account", {"name": ""}, record)
    assert list(caught.value.problems) == ["name"]


def test_read_value_converts_as_a_save_or_gives_none(service: RecordService) -> None:
    credit = service.app.form("account").field("credit")
    assert service.read_value(credit, "12.50") == Decimal("12.50")
    assert service.read_value(credit, "12.5x") is None


def test_the_context_is_the_actor_s(service: RecordService, people: People) -> None:
    user = service.context(people.carol).names["user"]
    assert user == {
        "id": people.carol.user_id,
        "roles": ["manager"],
        "department": people.carol.department_id,
    }
