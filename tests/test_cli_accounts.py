"""`formflow user set|list` and `formflow token create|list|revoke`, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from formflow import accounts
from formflow.accounts import tokens
from formflow.cli import main
from formflow.config import load_settings
from formflow.lifecycle.install import initialise
from formflow.lifecycle.instance import Instance
from formflow.records.access import Actor
from formflow.storage.database import read_transaction, write_transaction
from support import MINIMAL_FORM_YAML, AppWriter

FORM = MINIMAL_FORM_YAML.replace(
    "  staff: {create: all, read: own, update: own, delete: none}",
    "  staff: {create: all, read: own, update: own, delete: none}\n  manager: {read: department}",
)
PASSWORD = "password-1"

Run = Callable[..., Result]


@pytest.fixture
def instance(tmp_path: Path, database_url: str, write_app: AppWriter) -> Iterator[Instance]:
    """An instance with the app `demo`, departments Sales › East, Sales › West and Support ›
    East, and the users admin and li (staff, in Sales › East)."""
    settings = load_settings(
        {"FORMFLOW_INSTANCE": str(tmp_path / "instance"), "FORMFLOW_DATABASE_URL": database_url}
    )
    initialise(settings, [write_app(forms={"item": FORM})], "admin", PASSWORD)
    opened = Instance(settings)
    with write_transaction(opened.engine) as connection:
        sales = accounts.create_department(connection, "Sales")
        east = accounts.create_department(connection, "East", parent_id=sales)
        accounts.create_department(connection, "West", parent_id=sales)
        support = accounts.create_department(connection, "Support")
        accounts.create_department(connection, "East", parent_id=support)
        accounts.create_user(
            connection, "li", PASSWORD, department_id=east, roles={"demo": ["staff"]}
        )
    yield opened
    opened.close()


@pytest.fixture
def run(instance: Instance) -> Run:
    env = {
        "FORMFLOW_INSTANCE": str(instance.settings.instance),
        "FORMFLOW_DATABASE_URL": instance.settings.database_url,
        "FORMFLOW_APPS": "",
    }

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(main, list(args), env=env)

    return invoke


def user(instance: Instance, username: str) -> accounts.User:
    with read_transaction(instance.engine) as connection:
        found = accounts.find_user(connection, username)
    assert found is not None
    return found


def department_path(instance: Instance, username: str) -> str:
    with read_transaction(instance.engine) as connection:
        paths = accounts.department_paths(accounts.list_departments(connection))
    return paths[user(instance, username).department_id or 0]


def roles(instance: Instance, username: str) -> dict[str, frozenset[str]]:
    with read_transaction(instance.engine) as connection:
        found = user(instance, username)
        return accounts.roles_by_user(connection, [found.id]).get(found.id, {})


# formflow user set ------------------------------------------------------------------------


def test_user_set_moves_a_user_to_a_department_by_its_full_name(
    run: Run, instance: Instance
) -> None:
    result = run("user", "set", "li", "--department", "Sales/West")
    assert result.exit_code == 0, result.output
    assert result.output == "updated user li\n"
    assert department_path(instance, "li") == "Sales › West"


def test_user_set_takes_a_department_name_that_only_one_has(run: Run, instance: Instance) -> None:
    assert run("user", "set", "li", "--department", "Support").exit_code == 0
    assert department_path(instance, "li") == "Support"


def test_user_set_refuses_a_name_several_departments_share(run: Run, instance: Instance) -> None:
    result = run("user", "set", "li", "--department", "East")
    assert result.exit_code == 1
    assert result.output == (
        "Error: several departments are called 'East'; give the full name: "
        "Sales › East, Support › East\n"
    )


def test_user_set_names_the_departments_there_are_when_one_is_unknown(run: Run) -> None:
    result = run("user", "set", "li", "--department", "Marketing")
    assert result.exit_code == 1
    assert result.output == (
        "Error: no department 'Marketing' (there are: Sales, Sales › East, Sales › West, "
        "Support, Support › East)\n"
    )


def test_user_set_no_department_takes_them_out(run: Run, instance: Instance) -> None:
    assert run("user", "set", "li", "--no-department").exit_code == 0
    assert user(instance, "li").department_id is None


def test_a_user_s_records_follow_them_to_a_new_department(run: Run, instance: Instance) -> None:
    li = user(instance, "li")
    with read_transaction(instance.engine) as connection:
        li_actor = accounts.actor_for(connection, li, "demo")
    records = instance.records("demo")
    records.create(li_actor, "item", {"name": "li's"})
    result = run("user", "set", "li", "--department", "Sales/West")
    assert result.exit_code == 0, result.output
    with read_transaction(instance.engine) as connection:
        west = accounts.find_department(connection, "Sales/West").id
    west_manager = Actor(
        user_id=li.id + 1,
        roles=frozenset({"manager"}),
        department_id=west,
        department_ids=frozenset({west}),
    )
    assert [row["name"] for row in records.find(west_manager, "item").rows] == ["li's"]


def test_user_set_replaces_the_roles_in_the_apps_named(run: Run, instance: Instance) -> None:
    result = run("user", "set", "li", "--role", "demo:manager", "--role", "demo:staff")
    assert result.exit_code == 0, result.output
    assert roles(instance, "li") == {"demo": frozenset({"manager", "staff"})}
    assert run("user", "set", "li", "--role", "demo:manager").exit_code == 0
    assert roles(instance, "li") == {"demo": frozenset({"manager"})}


def test_user_set_no_roles_drops_every_role_in_an_app(run: Run, instance: Instance) -> None:
    assert run("user", "set", "li", "--no-roles", "demo").exit_code == 0
    assert roles(instance, "li") == {}


def test_user_set_refuses_a_role_the_app_does_not_declare(run: Run, instance: Instance) -> None:
    result = run("user", "set", "li", "--role", "demo:boss")
    assert result.exit_code == 1
    assert result.output == "Error: app demo has no role 'boss' (it has: staff, manager)\n"
    assert roles(instance, "li") == {"demo": frozenset({"staff"})}


def test_user_set_refuses_an_app_that_is_not_installed(run: Run) -> None:
    result = run("user", "set", "li", "--role", "shop:staff")
    assert result.exit_code == 1
    assert "no app 'shop' is installed" in result.output


def test_user_set_refuses_an_unknown_user(run: Run) -> None:
    result = run("user", "set", "nobody", "--inactive")
    assert result.exit_code == 1
    assert result.output == "Error: no user 'nobody'\n"


def test_user_set_deactivates_and_reactivates(run: Run, instance: Instance) -> None:
    assert run("user", "set", "li", "--inactive").exit_code == 0
    assert not user(instance, "li").is_active
    assert run("user", "set", "li", "--active", "--name", "Li Na").exit_code == 0
    assert user(instance, "li").is_active
    assert user(instance, "li").display_name == "Li Na"


def test_user_set_changes_only_what_is_given(run: Run, instance: Instance) -> None:
    before = user(instance, "li")
    assert run("user", "set", "li", "--admin").exit_code == 0
    after = user(instance, "li")
    assert after.is_admin
    assert (after.display_name, after.department_id, after.is_active) == (
        before.display_name,
        before.department_id,
        before.is_active,
    )
    assert roles(instance, "li") == {"demo": frozenset({"staff"})}


def test_user_set_keeps_the_last_administrator(run: Run, instance: Instance) -> None:
    result = run("user", "set", "admin", "--inactive")
    assert result.exit_code == 1
    assert "'admin' is the last active administrator" in result.output
    assert user(instance, "admin").is_active


def test_user_list_shows_departments_roles_and_state(run: Run) -> None:
    run("user", "set", "li", "--inactive")
    result = run("user", "list")
    assert result.exit_code == 0, result.output
    assert [line.split() for line in result.output.splitlines()] == [
        ["admin", "-", "-", "admin"],
        ["li", "Sales", "›", "East", "demo:staff", "inactive"],
    ]


# formflow token ---------------------------------------------------------------------------


def test_token_create_prints_the_token_alone_on_standard_output(
    run: Run, instance: Instance
) -> None:
    result = run("token", "create", "li", "--name", "nightly sync")
    assert result.exit_code == 0, result.output
    plaintext = result.stdout.strip()
    assert plaintext.startswith(tokens.PREFIX)
    assert result.stderr.startswith("token ")
    assert "shown only now" in result.stderr
    with read_transaction(instance.engine) as connection:
        match = tokens.find_token(connection, plaintext)
        [listed] = tokens.list_tokens(connection, user(instance, "li").id)
    assert match is not None
    assert match.user.username == "li"
    assert (listed.name, listed.expires_at) == ("nightly sync", None)


def test_token_create_with_expires_stops_working_after_that_many_days(
    run: Run, instance: Instance
) -> None:
    plaintext = run("token", "create", "li", "--expires", "7").stdout.strip()
    with read_transaction(instance.engine) as connection:
        [listed] = tokens.list_tokens(connection, user(instance, "li").id)
        assert listed.expires_at == listed.created_at + timedelta(days=7)
        assert tokens.find_token(connection, plaintext, now=listed.created_at + timedelta(days=6))
        late = listed.created_at + timedelta(days=7)
        assert tokens.find_token(connection, plaintext, now=late) is None


def test_token_create_refuses_zero_days(run: Run) -> None:
    result = run("token", "create", "li", "--expires", "0")
    assert result.exit_code == 2
    assert "0 is not in the range x>=1" in result.output


def test_token_create_refuses_an_unknown_user(run: Run) -> None:
    result = run("token", "create", "nobody")
    assert result.exit_code == 1
    assert result.output == "Error: no user 'nobody'\n"


def test_token_create_refuses_an_inactive_user(run: Run) -> None:
    run("user", "set", "li", "--inactive")
    result = run("token", "create", "li")
    assert result.exit_code == 1
    assert result.output == "Error: user 'li' is inactive; a token would not work\n"


def test_token_create_refuses_an_empty_name(run: Run) -> None:
    result = run("token", "create", "li", "--name", " ")
    assert result.exit_code == 1
    assert "give the token a name" in result.output


def test_token_list_shows_everyone_s_tokens_without_their_secrets(
    run: Run, instance: Instance
) -> None:
    secret = run("token", "create", "li", "--name", "sync").stdout.strip()
    run("token", "create", "admin", "--name", "backup", "--expires", "30")
    result = run("token", "list")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert [line.split()[1:3] for line in lines] == [["admin", "backup"], ["li", "sync"]]
    assert "never used" in lines[0]
    assert "expires " in lines[0]
    assert "no expiry" in lines[1]
    assert secret not in result.output


def test_token_list_of_one_user(run: Run) -> None:
    run("token", "create", "li", "--name", "sync")
    run("token", "create", "admin", "--name", "backup")
    result = run("token", "list", "li")
    assert [line.split()[1:3] for line in result.output.splitlines()] == [["li", "sync"]]


def test_token_list_marks_an_expired_token(run: Run, instance: Instance) -> None:
    with write_transaction(instance.engine) as connection:
        tokens.create_token(
            connection,
            user(instance, "li").id,
            "old job",
            now=datetime.now(UTC) - timedelta(days=3),
            expires_in=timedelta(days=1),
        )
    assert "expired " in run("token", "list", "li").output


def test_token_list_refuses_an_unknown_user(run: Run) -> None:
    result = run("token", "list", "nobody")
    assert result.exit_code == 1
    assert result.output == "Error: no user 'nobody'\n"


def test_token_revoke_ends_any_user_s_token(run: Run, instance: Instance) -> None:
    plaintext = run("token", "create", "li").stdout.strip()
    [token_id] = [line.split()[0] for line in run("token", "list").output.splitlines()]
    result = run("token", "revoke", token_id)
    assert result.exit_code == 0, result.output
    assert result.output == f"revoked token {token_id}\n"
    with read_transaction(instance.engine) as connection:
        assert tokens.find_token(connection, plaintext) is None


def test_token_revoke_of_an_unknown_token_says_where_to_look(run: Run) -> None:
    result = run("token", "revoke", "999")
    assert result.exit_code == 1
    assert result.output == "Error: no token 999; `formflow token list` shows them\n"
