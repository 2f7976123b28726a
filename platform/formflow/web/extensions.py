"""Flask extensions, created unbound; :func:`formflow.web.create_app` binds them."""

from __future__ import annotations

from flask_babel import Babel, gettext
from flask_login import LoginManager
from flask_wtf import CSRFProtect

from formflow.errors import N_

login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.session_protection = "strong"
login_manager.login_message = N_("Please sign in to see this page.")
login_manager.localize_callback = gettext

csrf = CSRFProtect()
babel = Babel()
