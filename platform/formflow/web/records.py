"""Generated pages for every form: list, detail, create, edit, delete and restore."""

from __future__ import annotations

from flask import Blueprint, Flask, abort
from flask_login import login_required

blueprint = Blueprint("records", __name__)


@blueprint.route("/<app_key>/<form_key>/")
@login_required  # type: ignore[untyped-decorator]
def index(app_key: str, form_key: str) -> str:
    abort(501)


@blueprint.route("/<app_key>/<form_key>/new")
@login_required  # type: ignore[untyped-decorator]
def create(app_key: str, form_key: str) -> str:
    abort(501)


@blueprint.route("/<app_key>/<form_key>/<int:record_id>")
@login_required  # type: ignore[untyped-decorator]
def detail(app_key: str, form_key: str, record_id: int) -> str:
    abort(501)


def init_app(app: Flask) -> None:
    app.register_blueprint(blueprint)
