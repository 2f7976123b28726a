"""Administration pages: users, departments and role assignments.

Only administrators reach them (everyone else gets 403). Every change goes through
:mod:`formflow.accounts`; the pages only turn forms into those calls and the refusals the
calls raise into messages next to the fields concerned.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from flask import Blueprint, Flask, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import Connection
from werkzeug.wrappers import Response
from wtforms import (
    BooleanField,
    PasswordField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import DataRequired, Length, Regexp

from formflow import accounts
from formflow.accounts import second_factor
from formflow.definitions.model import App
from formflow.storage.database import read_transaction, write_transaction
from formflow.web import context
from formflow.web.auth import stay_signed_in
from formflow.web.extensions import login_manager
from formflow.web.i18n import text
from formflow.web.ids import parse_id
from formflow.web.validators import (
    new_password_checks,
    password_policy,
    refusal_message,
    storable_text,
)

blueprint = Blueprint("admin", __name__, url_prefix="/admin")

USERNAME_PATTERN = r"^[\w.@-]+$"
NONE = ""


def administrators_only(refusal: str) -> Any:
    """For a blueprint's ``before_request``: a visitor not signed in is sent to sign in, a
    user who is not an administrator is refused (403, ``refusal``); ``None`` lets one in."""
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if not context.user().is_admin:
        abort(403, description=refusal)
    return None


def for_administrators(pages: Blueprint, refusal: LazyString) -> None:
    """Let only administrators into ``pages`` (see :func:`administrators_only`); the
    refusal is translated per request, into the visitor's language."""
    pages.before_request(lambda: administrators_only(str(refusal)))


for_administrators(blueprint, _l("Only administrators may manage users and departments."))


# forms ------------------------------------------------------------------------------


def strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


def name_field(label: str) -> StringField:
    """A required name of up to 200 characters, trimmed."""
    return StringField(
        label,
        filters=[strip],
        validators=[DataRequired(_l("Enter a name.")), Length(max=200), storable_text],
    )


class ProfileForm(FlaskForm):  # type: ignore[misc]
    display_name = name_field(_l("Name"))
    department = SelectField(_l("Department"), choices=[], validate_choice=True)
    is_admin = BooleanField(_l("Administrator (may manage users, departments and every record)"))


class NewUserForm(ProfileForm):
    username = StringField(
        _l("Username"),
        filters=[strip],
        validators=[
            DataRequired(_l("Enter a username.")),
            Length(max=150),
            Regexp(
                USERNAME_PATTERN,
                message=_l("Use letters, digits and . _ - @ only, without spaces."),
            ),
        ],
    )
    password = PasswordField(
        _l("Password"),
        validators=new_password_checks(),
    )


class EditUserForm(ProfileForm):
    is_active = BooleanField(_l("Active (may sign in)"))


class PasswordForm(FlaskForm):  # type: ignore[misc]
    new_password = PasswordField(
        _l("New password"),
        validators=new_password_checks(),
    )


class DepartmentForm(FlaskForm):  # type: ignore[misc]
    name = name_field(_l("Department name"))
    # Not checked against its choices: the accounts module refuses a bad parent itself.
    parent = SelectField(_l("Parent department"), choices=[], validate_choice=False)


class EditDepartmentForm(DepartmentForm):
    manager = SelectField(_l("Manager"), choices=[], validate_choice=True)


F = TypeVar("F", bound=ProfileForm)


def role_field_name(app_key: str) -> str:
    return f"roles_{app_key}"


def _with_roles(form_class: type[F], apps: list[App]) -> type[F]:
    """``form_class`` with one group of role check boxes per installed app."""
    attributes = {
        role_field_name(app.key): SelectMultipleField(
            text(app.label),
            choices=[SelectChoice(role.key, text(role.label)) for role in app.roles],
        )
        for app in apps
    }
    return cast(type[F], type(form_class.__name__, (form_class,), attributes))


# users --------------------------------------------------------------------------------


@dataclass
class Choices:
    """What the user forms offer: departments by their full names, and each app's roles."""

    departments: list[accounts.Department]
    apps: list[App]
    paths: dict[int, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.paths = accounts.department_paths(self.departments)

    def department_choices(self) -> list[SelectChoice]:
        ordered = sorted(self.paths.items(), key=lambda item: item[1])
        return [SelectChoice(NONE, _("(none)")), *[SelectChoice(str(k), p) for k, p in ordered]]

    def role_labels(self, roles: dict[str, frozenset[str]]) -> list[str]:
        labels = []
        for app in self.apps:
            held = roles.get(app.key, frozenset())
            names = [text(role.label) for role in app.roles if role.key in held]
            if names and len(self.apps) > 1:
                labels.append(f"{text(app.label)}: {', '.join(names)}")
            else:
                labels.extend(names)
        return labels


def _load_choices(connection: Connection) -> Choices:
    instance = context.instance()
    apps = [instance.app(key) for key in instance.app_keys]
    return Choices(accounts.list_departments(connection), apps)


@blueprint.route("/users")
def users() -> str:
    with read_transaction(context.instance().engine) as connection:
        everyone = accounts.list_users(connection)
        roles = accounts.roles_by_user(connection)
        choices = _load_choices(connection)
    rows = [
        {
            "user": user,
            "department": choices.paths.get(user.department_id or 0, ""),
            "roles": choices.role_labels(roles.get(user.id, {})),
        }
        for user in everyone
    ]
    return render_template("admin/users.html", rows=rows)


@blueprint.route("/users/new", methods=["GET", "POST"])
def create_user() -> str | Response:
    engine = context.instance().engine
    with read_transaction(engine) as connection:
        choices = _load_choices(connection)
    form = _with_roles(NewUserForm, choices.apps)()
    form.department.choices = choices.department_choices()
    valid = form.validate_on_submit()
    if form.is_submitted():
        username = form.username.data or ""
        with write_transaction(engine) as connection:
            checked = username and not form.username.errors
            if checked and accounts.find_user(connection, username) is not None:
                form.username.errors.append(_("This username is already taken."))
            elif valid:
                try:
                    accounts.create_user(
                        connection,
                        username,
                        form.password.data,
                        display_name=form.display_name.data,
                        department_id=_id_or_none(form.department.data),
                        is_admin=form.is_admin.data,
                        roles=_chosen_roles(form, choices.apps),
                        language=context.instance().settings.language,
                        policy=password_policy(),
                    )
                except accounts.WeakPassword as refused:
                    form.password.errors.append(refusal_message(refused))
                else:
                    flash(_("User %(username)s was created.", username=username))
                    return redirect(url_for("admin.users"))
    return _user_page(form, choices, user=None)


@blueprint.route("/users/<int:user_id>", methods=["GET", "POST"])
def edit_user(user_id: int) -> str | Response:
    user, choices, form = _edit_form(user_id, posted=True)
    if form.validate_on_submit() and _may_save(user, form):
        try:
            _save_profile(user, form, choices.apps)
        except accounts.LastAdministrator:
            target = form.is_admin if form.is_active.data else form.is_active
            target.errors.append(
                _("This is the last active administrator; make someone else one first.")
            )
        else:
            flash(_("Changes to %(username)s were saved.", username=user.username))
            return redirect(url_for("admin.users"))
    return _user_page(form, choices, user=user, password_form=PasswordForm(formdata=None))


@blueprint.route("/users/<int:user_id>/password", methods=["POST"])
def reset_password(user_id: int) -> str | Response:
    user, choices, form = _edit_form(user_id, posted=False)
    password_form = PasswordForm()
    if password_form.validate_on_submit():
        try:
            with write_transaction(context.instance().engine) as connection:
                accounts.set_password(
                    connection,
                    user.username,
                    password_form.new_password.data,
                    policy=password_policy(),
                )
        except accounts.WeakPassword as refused:
            password_form.new_password.errors.append(refusal_message(refused))
            return _user_page(form, choices, user=user, password_form=password_form)
        if user.id == context.user().id:
            stay_signed_in()
        flash(_("The password of %(username)s was reset.", username=user.username))
        return redirect(url_for("admin.edit_user", user_id=user_id))
    return _user_page(form, choices, user=user, password_form=password_form)


def _edit_form(user_id: int, *, posted: bool) -> tuple[accounts.User, Choices, EditUserForm]:
    """The user (404 if there is none), the page's choices and the user's profile form, filled
    from the user, and from the request too when the profile is what was ``posted``."""
    with read_transaction(context.instance().engine) as connection:
        user = _user_or_404(connection, user_id)
        held = accounts.roles_by_user(connection, [user_id]).get(user_id, {})
        choices = _load_choices(connection)
    form_class = _with_roles(EditUserForm, choices.apps)
    data = _profile_data(user, held, choices.apps)
    form = form_class(data=data) if posted else form_class(formdata=None, data=data)
    form.department.choices = choices.department_choices()
    return user, choices, form


def _user_page(
    form: ProfileForm,
    choices: Choices,
    *,
    user: accounts.User | None,
    password_form: PasswordForm | None = None,
) -> str:
    role_fields = [(app, form[role_field_name(app.key)]) for app in choices.apps]
    second_factor_on = False
    if user is not None:
        with read_transaction(context.instance().engine) as connection:
            second_factor_on = second_factor.is_enrolled(connection, user.id)
    return render_template(
        "admin/user_form.html",
        form=form,
        user=user,
        role_fields=role_fields,
        password_form=password_form,
        min_password=accounts.MIN_PASSWORD_LENGTH,
        second_factor_on=second_factor_on,
    )


@blueprint.post("/users/<int:user_id>/second-factor/off")
def turn_off_second_factor(user_id: int) -> Response:
    """For a user who lost their phone and recovery codes (CSRFProtect checked the POST)."""
    with write_transaction(context.instance().engine) as connection:
        user = _user_or_404(connection, user_id)
        second_factor.turn_off(connection, user.id)
    flash(_("The second factor of %(username)s is off.", username=user.username))
    return redirect(url_for("admin.edit_user", user_id=user_id))


def _profile_data(
    user: accounts.User, held: dict[str, frozenset[str]], apps: list[App]
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "display_name": user.display_name,
        "department": str(user.department_id) if user.department_id else NONE,
        "is_admin": user.is_admin,
        "is_active": user.is_active,
    }
    for app in apps:
        data[role_field_name(app.key)] = sorted(held.get(app.key, frozenset()))
    return data


def _may_save(user: accounts.User, form: EditUserForm) -> bool:
    """Administrators may not lock themselves out; say so next to the field."""
    if user.id != context.user().id:
        return True
    if not form.is_active.data:
        form.is_active.errors.append(_("You cannot deactivate your own account."))
    if user.is_admin and not form.is_admin.data:
        form.is_admin.errors.append(_("You cannot remove your own administrator rights."))
    return not (form.is_active.errors or form.is_admin.errors)


def _save_profile(user: accounts.User, form: EditUserForm, apps: list[App]) -> None:
    with write_transaction(context.instance().engine) as connection:
        accounts.update_user(
            connection,
            user.id,
            display_name=form.display_name.data,
            department_id=_id_or_none(form.department.data),
            is_active=form.is_active.data,
            is_admin=form.is_admin.data,
        )
        for app_key, role_keys in _chosen_roles(form, apps).items():
            accounts.set_roles(connection, user.id, app_key, role_keys)
    if user.id == context.user().id:
        stay_signed_in()
    new_department = _id_or_none(form.department.data)
    if new_department != user.department_id:
        context.instance().move_records_of(user.id, new_department)


def _chosen_roles(form: ProfileForm, apps: list[App]) -> dict[str, list[str]]:
    return {app.key: list(form[role_field_name(app.key)].data or []) for app in apps}


def _user_or_404(connection: Connection, user_id: int) -> accounts.User:
    user = accounts.get_user(connection, user_id)
    if user is None:
        abort(404)
    return user


# departments --------------------------------------------------------------------------


@dataclass
class Node:
    department: accounts.Department
    manager: str
    members: int
    children: list[Node] = field(default_factory=list)


@blueprint.route("/departments", methods=["GET", "POST"])
def departments() -> str | Response:
    engine = context.instance().engine
    with read_transaction(engine) as connection:
        found = accounts.list_departments(connection)
        everyone = accounts.list_users(connection)
    paths = accounts.department_paths(found)
    form = DepartmentForm()
    form.parent.choices = _parent_choices(paths, excluded=frozenset())
    if form.validate_on_submit():
        parent_id = _id_or_none(form.parent.data)
        if parent_id is not None and parent_id not in paths:
            form.parent.errors.append(_("Choose a parent department from the list."))
        else:
            name = form.name.data
            with write_transaction(engine) as connection:
                accounts.create_department(connection, name, parent_id=parent_id)
            flash(_("Department %(name)s was created.", name=name))
            return redirect(url_for("admin.departments"))
    return render_template(
        "admin/departments.html", tree=_nested(found, everyone), form=form, count=len(found)
    )


@blueprint.route("/departments/<int:department_id>", methods=["GET", "POST"])
def edit_department(department_id: int) -> str | Response:
    engine = context.instance().engine
    with read_transaction(engine) as connection:
        department = accounts.get_department(connection, department_id)
        if department is None:
            abort(404)
        found = accounts.list_departments(connection)
        below = accounts.department_subtree(connection, department_id)
        everyone = accounts.list_users(connection)
    paths = accounts.department_paths(found)
    form = EditDepartmentForm(
        data={
            "name": department.name,
            "parent": str(department.parent_id) if department.parent_id else NONE,
            "manager": str(department.manager_id) if department.manager_id else NONE,
        }
    )
    form.parent.choices = _parent_choices(paths, excluded=below)
    form.manager.choices = [
        SelectChoice(NONE, _("(none)")),
        *[
            SelectChoice(str(user.id), f"{user.display_name} ({user.username})")
            for user in everyone
            if user.is_active or user.id == department.manager_id
        ],
    ]
    if form.validate_on_submit():
        try:
            with write_transaction(engine) as connection:
                accounts.update_department(
                    connection,
                    department_id,
                    name=form.name.data,
                    parent_id=_id_or_none(form.parent.data),
                    manager_id=_id_or_none(form.manager.data),
                )
        except accounts.DepartmentCycle:
            form.parent.errors.append(
                _("A department cannot move under itself or one of its own sub-departments.")
            )
        except accounts.AccountError:
            form.parent.errors.append(_("Choose a parent department from the list."))
        else:
            flash(_("Department %(name)s was saved.", name=form.name.data))
            return redirect(url_for("admin.departments"))
    return render_template("admin/department_form.html", form=form, department=department)


def _parent_choices(paths: dict[int, str], *, excluded: frozenset[int]) -> list[SelectChoice]:
    ordered = sorted(
        ((key, path) for key, path in paths.items() if key not in excluded),
        key=lambda item: item[1],
    )
    return [SelectChoice(NONE, _("(top level)")), *[SelectChoice(str(k), p) for k, p in ordered]]


def _nested(found: list[accounts.Department], everyone: list[accounts.User]) -> list[Node]:
    names = {user.id: user.display_name for user in everyone}
    members: dict[int, int] = {}
    for user in everyone:
        if user.department_id is not None and user.is_active:
            members[user.department_id] = members.get(user.department_id, 0) + 1
    roots: list[Node] = []
    stack: list[Node] = []
    for department, depth in accounts.department_tree(found):
        node = Node(
            department,
            names.get(department.manager_id or 0, ""),
            members.get(department.id, 0),
        )
        del stack[depth:]
        (stack[-1].children if stack else roots).append(node)
        stack.append(node)
    return roots


def _id_or_none(value: str | None) -> int | None:
    return parse_id(value) if value else None


def init_app(app: Flask) -> None:
    app.register_blueprint(blueprint)
