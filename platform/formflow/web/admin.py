"""Administration pages: users, departments and role assignments."""

from __future__ import annotations

from flask import Blueprint, Flask, abort
from flask_login import login_required

blueprint = Blueprint("admin", __name__, url_prefix="/admin")


@blueprint.route("/users")
@login_required  # type: ignore[untyped-decorator]
def users() -> str:
    abort(501)


def init_app(app: Flask) -> None:
    app.register_blueprint(blueprint)
