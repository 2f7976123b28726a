"""An opened instance."""

from __future__ import annotations

from pathlib import Path

from formflow import accounts
from formflow.config import load_settings
from formflow.lifecycle.install import initialise
from formflow.lifecycle.instance import Instance
from formflow.records.access import Actor
from formflow.storage.database import write_transaction
from support import MINIMAL_FORM_YAML, AppWriter

FORM = MINIMAL_FORM_YAML.replace(
    "  staff: {create: all, read: own, update: own, delete: none}",
    "  staff: {create: all, read: own, update: own, delete: none}\n  manager: {read: department}",
)


def test_a_user_s_records_follow_them_to_a_new_department(
    write_app: AppWriter, tmp_path: Path
) -> None:
    settings = load_settings({"FORMFLOW_INSTANCE": str(tmp_path / "instance")})
    initialise(settings, [write_app(forms={"item": FORM})], "admin", "password-1")
    instance = Instance(settings)
    try:
        with write_transaction(instance.engine) as connection:
            east = accounts.create_department(connection, "East")
            west = accounts.create_department(connection, "West")
            li = accounts.create_user(
                connection, "li", "password-1", department_id=east, roles={"demo": ["staff"]}
            )
            user = accounts.get_user(connection, li)
            assert user is not None
            li_actor = accounts.actor_for(connection, user, "demo")
        records = instance.records("demo")
        records.create(li_actor, "item", {"name": "li's"})
        west_manager = Actor(
            user_id=li + 1,
            roles=frozenset({"manager"}),
            department_id=west,
            department_ids=frozenset({west}),
        )
        assert records.find(west_manager, "item").rows == []
        assert instance.move_records_of(li, west) == 1
        assert [row["name"] for row in records.find(west_manager, "item").rows] == ["li's"]
    finally:
        instance.close()
