"""The admin pages: users, their roles and departments, for administrators only."""

from __future__ import annotations

import math
import re
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event

from formflow import accounts
from formflow.storage.database import read_transaction, write_transaction
from web.conftest import PASSWORD, csrf_token

Login = Callable[[str], FlaskClient]


def engine_of(app: Flask):  # type: ignore[no-untyped-def]
    return app.extensions["formflow"].engine


def user_named(app: Flask, username: str) -> accounts.User:
    with read_transaction(engine_of(app)) as connection:
        user = accounts.find_user(connection, username)
    assert user is not None
    return user


def department_named(app: Flask, name: str) -> accounts.Department:
    with read_transaction(engine_of(app)) as connection:
        return next(d for d in accounts.list_departments(connection) if d.name == name)


def post(client: FlaskClient, path: str, data: dict[str, object]) -> object:
    return client.post(path, data={**data, "csrf_token": csrf_token(client, path)})


def in_english(client: FlaskClient) -> FlaskClient:
    client.post("/language/en", data={"csrf_token": csrf_token(client, "/")})
    return client


# who may come in ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/admin/users", "/admin/users/new", "/admin/users/1", "/admin/departments"]
)
def test_only_administrators_reach_the_admin_pages(
    client: FlaskClient, login: Login, path: str
) -> None:
    assert client.get(path).status_code == 302  # to the sign-in page
    login("manager")
    assert client.get(path).status_code == 403


def test_a_refused_post_changes_nothing(app: Flask, client: FlaskClient, login: Login) -> None:
    login("rep1")
    token = csrf_token(client, "/")
    response = client.post(
        "/admin/users/new",
        data={"username": "sneaky", "display_name": "x", "password": "long-enough-1"}
        | {"csrf_token": token},
    )
    assert response.status_code == 403
    with read_transaction(engine_of(app)) as connection:
        assert accounts.find_user(connection, "sneaky") is None


# users ---------------------------------------------------------------------------------


def test_the_user_list_shows_names_departments_roles_and_status(
    client: FlaskClient, login: Login
) -> None:
    in_english(login("admin"))
    page = client.get("/admin/users")
    assert page.status_code == 200
    assert "rep1" in page.text
    assert "销售部 › 华东区" in page.text
    assert "Sales rep" in page.text
    assert "Sales manager" in page.text
    assert "Active" in page.text


def test_creating_a_user_with_roles(app: Flask, client: FlaskClient, login: Login) -> None:
    login("admin")
    east = department_named(app, "华东区")
    response = post(
        client,
        "/admin/users/new",
        {
            "username": "wang.fang",
            "display_name": "王芳",
            "password": "a-long-password",
            "department": str(east.id),
            "roles_crm_sfa": ["sales_rep", "finance"],
        },
    )
    assert response.status_code == 302  # type: ignore[attr-defined]
    user = user_named(app, "wang.fang")
    assert (user.display_name, user.department_id, user.is_admin) == ("王芳", east.id, False)
    with read_transaction(engine_of(app)) as connection:
        roles = accounts.roles_by_user(connection, [user.id])[user.id]
        assert roles == {"crm_sfa": frozenset({"sales_rep", "finance"})}
        assert accounts.authenticate(connection, "wang.fang", "a-long-password") is not None


def test_the_role_choices_come_from_the_app_definition(client: FlaskClient, login: Login) -> None:
    login("admin")  # who speaks Chinese
    page = client.get("/admin/users/new").text
    for label in ("管理员", "销售", "销售经理", "销售总监", "财务"):
        assert f"> {label}</label>" in page
    assert 'value="sales_director"' in page


def test_errors_show_next_to_their_fields_and_input_is_kept(
    app: Flask, client: FlaskClient, login: Login
) -> None:
    in_english(login("admin"))
    response = post(
        client,
        "/admin/users/new",
        {
            "username": "rep1",
            "display_name": "Kept name",
            "password": "short",
            "roles_crm_sfa": ["sales_manager"],
        },
    )
    page = response.text  # type: ignore[attr-defined]
    assert response.status_code == 200  # type: ignore[attr-defined]
    assert "This username is already taken." in page
    assert "A password needs at least 8 characters." in page
    assert 'value="Kept name"' in page
    assert 'value="sales_manager" checked' in page


def test_a_username_with_spaces_is_refused(client: FlaskClient, login: Login) -> None:
    login("admin")
    response = post(
        client,
        "/admin/users/new",
        {"username": "two words", "display_name": "x", "password": "long-enough-1"},
    )
    assert response.status_code == 200  # type: ignore[attr-defined]
    assert 'aria-invalid="true"' in response.text  # type: ignore[attr-defined]


def test_editing_a_user_changes_name_department_roles_and_status(
    app: Flask, client: FlaskClient, login: Login
) -> None:
    login("admin")
    rep = user_named(app, "rep1")
    finance = department_named(app, "财务部")
    response = post(
        client,
        f"/admin/users/{rep.id}",
        {
            "display_name": "刘洋",
            "department": str(finance.id),
            "roles_crm_sfa": ["finance"],
        },  # is_active left unticked: deactivated
    )
    assert response.status_code == 302  # type: ignore[attr-defined]
    changed = user_named(app, "rep1")
    assert (changed.display_name, changed.department_id, changed.is_active) == (
        "刘洋",
        finance.id,
        False,
    )
    with read_transaction(engine_of(app)) as connection:
        assert accounts.roles_by_user(connection, [rep.id])[rep.id] == {
            "crm_sfa": frozenset({"finance"})
        }
        assert accounts.authenticate(connection, "rep1", PASSWORD) is None  # deactivated


def test_a_deactivated_user_is_signed_out(app: Flask, login: Login) -> None:
    rep_client = app.test_client()
    token = csrf_token(rep_client, "/login")
    rep_client.post("/login", data={"username": "rep2", "password": PASSWORD, "csrf_token": token})
    assert rep_client.get("/").status_code == 200
    admin = login("admin")
    rep = user_named(app, "rep2")
    post(admin, f"/admin/users/{rep.id}", {"display_name": "rep2"})
    assert rep_client.get("/").status_code == 302


def test_administrators_cannot_lock_themselves_out(
    app: Flask, client: FlaskClient, login: Login
) -> None:
    in_english(login("admin"))
    me = user_named(app, "admin")
    response = post(client, f"/admin/users/{me.id}", {"display_name": "Administrator"})
    assert response.status_code == 200  # type: ignore[attr-defined]
    page = response.text  # type: ignore[attr-defined]
    assert "You cannot deactivate your own account." in page
    assert user_named(app, "admin").is_active
    assert user_named(app, "admin").is_admin


def test_the_last_administrator_stays_one(app: Flask) -> None:
    with write_transaction(engine_of(app)) as connection:
        admin = accounts.find_user(connection, "admin")
        assert admin is not None
        with pytest.raises(accounts.LastAdministrator):
            accounts.update_user(
                connection,
                admin.id,
                display_name="Administrator",
                department_id=None,
                is_active=True,
                is_admin=False,
            )


def test_resetting_a_password(app: Flask, client: FlaskClient, login: Login) -> None:
    login("admin")
    rep = user_named(app, "rep3")
    short = post(client, f"/admin/users/{rep.id}/password", {"new_password": "short"})
    assert short.status_code == 200  # type: ignore[attr-defined]
    response = post(client, f"/admin/users/{rep.id}/password", {"new_password": "brand-new-pass"})
    assert response.status_code == 302  # type: ignore[attr-defined]
    with read_transaction(engine_of(app)) as connection:
        assert accounts.authenticate(connection, "rep3", "brand-new-pass") is not None
        assert accounts.authenticate(connection, "rep3", PASSWORD) is None


def test_an_unknown_user_is_not_found(client: FlaskClient, login: Login) -> None:
    login("admin")
    assert client.get("/admin/users/9999").status_code == 404


# departments ----------------------------------------------------------------------------


def test_departments_show_as_a_tree(client: FlaskClient, login: Login) -> None:
    login("admin")
    page = client.get("/admin/departments").text
    sales = page.index(">销售部<")
    assert sales < page.index(">华东区<") < page.index("</ul>", sales)


def test_creating_a_department_under_a_parent(
    app: Flask, client: FlaskClient, login: Login
) -> None:
    login("admin")
    sales = department_named(app, "销售部")
    response = post(client, "/admin/departments", {"name": "华南区", "parent": str(sales.id)})
    assert response.status_code == 302  # type: ignore[attr-defined]
    assert department_named(app, "华南区").parent_id == sales.id


def test_a_department_needs_a_name(client: FlaskClient, login: Login) -> None:
    login("admin")
    response = post(client, "/admin/departments", {"name": "  ", "parent": ""})
    assert response.status_code == 200  # type: ignore[attr-defined]
    assert "has-error" in response.text  # type: ignore[attr-defined]


def test_a_department_name_no_database_can_store_is_a_field_error(
    client: FlaskClient, login: Login
) -> None:
    login("admin")
    response = post(client, "/admin/departments", {"name": "华南\x00区", "parent": ""})
    assert response.status_code == 200  # type: ignore[attr-defined]
    assert "请删除无法保存的字符" in response.text  # type: ignore[attr-defined]


def test_renaming_moving_and_setting_a_manager(
    app: Flask, client: FlaskClient, login: Login
) -> None:
    login("admin")
    west = department_named(app, "华西区")
    finance = department_named(app, "财务部")
    manager = user_named(app, "manager")
    response = post(
        client,
        f"/admin/departments/{west.id}",
        {"name": "西南区", "parent": str(finance.id), "manager": str(manager.id)},
    )
    assert response.status_code == 302  # type: ignore[attr-defined]
    with read_transaction(engine_of(app)) as connection:
        moved = accounts.get_department(connection, west.id)
    assert moved == accounts.Department(west.id, "西南区", finance.id, manager.id)


def test_a_department_cannot_move_under_its_own_team(
    app: Flask, client: FlaskClient, login: Login
) -> None:
    in_english(login("admin"))
    sales = department_named(app, "销售部")
    east = department_named(app, "华东区")
    form = client.get(f"/admin/departments/{sales.id}").text
    assert "销售部 › 华东区</option>" not in form  # not offered as a parent
    response = post(
        client, f"/admin/departments/{sales.id}", {"name": "销售部", "parent": str(east.id)}
    )
    assert response.status_code == 200  # type: ignore[attr-defined]
    page = response.text  # type: ignore[attr-defined]
    assert "cannot move under itself" in page
    assert department_named(app, "销售部").parent_id is None


def test_department_tree_orders_depth_first() -> None:
    departments = [
        accounts.Department(1, "销售部", None, None),
        accounts.Department(2, "华南区", 1, None),
        accounts.Department(3, "财务部", None, None),
        accounts.Department(4, "华东区", 1, None),
        accounts.Department(5, "一组", 4, None),
    ]
    tree = [(d.id, depth) for d, depth in accounts.department_tree(departments)]
    # siblings by name in code-point order: 华东区 < 华南区, 财务部 < 销售部
    assert tree == [(3, 0), (1, 0), (4, 1), (5, 2), (2, 1)]


def test_the_user_table_stacks_into_cards_on_a_phone(client: FlaskClient, login: Login) -> None:
    """formflow.css turns `table.records` rows into cards below 640 px, labelling each value
    from its cell's data-label."""
    login("admin")
    page = client.get("/admin/users").text
    assert '<table class="records">' in page
    cells = re.findall(r"<td[^>]*>", page)
    assert cells
    assert all("data-label=" in cell for cell in cells)


def test_the_user_list_costs_the_same_for_many_users(app: Flask, login: Login) -> None:
    client = login("admin")
    client.get("/admin/users")  # warm up: the app definition is compiled once
    app.extensions["formflow"].version_check_seconds = math.inf  # however slow the machine

    def statements() -> int:
        seen: list[str] = []

        def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
            seen.append(statement)

        event.listen(engine_of(app), "before_cursor_execute", count)
        try:
            assert client.get("/admin/users").status_code == 200
        finally:
            event.remove(engine_of(app), "before_cursor_execute", count)
        return len(seen)

    few = statements()
    password_hash = accounts.hash_password(PASSWORD)
    with write_transaction(engine_of(app)) as connection:
        for number in range(30):
            accounts.create_user(
                connection,
                f"extra{number}",
                None,
                password_hash=password_hash,
                roles={"crm_sfa": ["sales_rep"]},
            )
    assert statements() == few
