"""Front-end packages from the npm registry, served by the app itself.

``make setup`` installs them into ``node_modules`` (see ``package.json``); nothing is loaded
from a CDN, so every page works without internet. Only the files listed here are served.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Flask, abort, send_from_directory
from werkzeug.wrappers import Response

from formflow.config import Settings

VENDOR_FILES = {
    "htmx.min.js": ("htmx.org", "dist/htmx.min.js"),
    "Sortable.min.js": ("sortablejs", "Sortable.min.js"),
    "echarts.min.js": ("echarts", "dist/echarts.min.js"),
}

ROOT = Path(__file__).resolve().parents[3]


def init_app(app: Flask, settings: Settings) -> None:
    folder = settings.assets_dir or ROOT / "node_modules"
    blueprint = Blueprint("assets", __name__)

    @blueprint.route("/static/vendor/<name>")
    def vendor(name: str) -> Response:
        if name not in VENDOR_FILES:
            abort(404)
        package, path = VENDOR_FILES[name]
        return send_from_directory(folder / package, path, max_age=86400)

    app.register_blueprint(blueprint)
