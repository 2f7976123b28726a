"""The web app: generated pages for staff, the admin pages and the REST API.

``create_app`` follows Flask's application-factory pattern: the extensions are created
unbound in :mod:`formflow.web.extensions` and bound here, and tests pass their own settings.
Blueprints are thin: they turn requests into calls on the record service and results into
pages or JSON; they never build SQL. Templates are looked up in the instance's
``templates/`` folder first, then the plugins' folders, so a deployment can override any
page without forking; plugins add their own pages (:mod:`formflow.web.plugin_pages`).
"""

from __future__ import annotations

from contextlib import ExitStack

from flask import Flask, Request, Response, g, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface, SessionMixin

from formflow.accounts import sessions
from formflow.config import Settings, instance_secret, load_settings
from formflow.lifecycle.instance import Instance
from formflow.storage.database import shared_reads
from formflow.web import (
    account_pages,
    address_checks,
    address_pages,
    admin,
    api,
    assets,
    audit_pages,
    auth,
    automation_pages,
    cookies,
    dashboard_pages,
    delegation_pages,
    designer_pages,
    errors,
    headers,
    i18n,
    ids,
    inbox_pages,
    job_pages,
    monitoring_pages,
    navigation,
    notification_pages,
    openapi,
    plugin_pages,
    records,
    token_pages,
    transfer_pages,
    workbench,
)
from formflow.web.extensions import babel, csrf, login_manager


def create_app(settings: Settings | None = None, *, instance: Instance | None = None) -> Flask:
    """A Flask app serving ``instance`` (opened from ``settings`` when not given)."""
    settings = settings or (instance.settings if instance else load_settings())
    instance = instance or Instance(settings)
    app = Flask("formflow")
    app.url_map.converters["int"] = ids.IdConverter
    app.config.update(
        SECRET_KEY=instance_secret(settings),
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=settings.secure_cookies,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_DURATION=sessions.REMEMBERED_LIFETIME,
        PERMANENT_SESSION_LIFETIME=sessions.LIFETIME,
        MAX_CONTENT_LENGTH=int(settings.max_upload_mb * 1024 * 1024) + 1024 * 1024,
        WTF_CSRF_TIME_LIMIT=None,
    )
    app.extensions["formflow"] = instance
    app.session_interface = PageSessions()
    app.jinja_loader = plugin_pages.template_loader(settings, instance.plugins.template_dirs)
    _share_reads_per_request(app, instance)  # first: the checks before each request read too
    login_manager.init_app(app)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=i18n.select_locale)
    i18n.init_app(app)
    cookies.init_app(app)
    errors.init_app(app)
    headers.init_app(app)
    assets.init_app(app, settings)
    address_checks.init_app(app)
    app.register_blueprint(auth.blueprint)
    app.register_blueprint(workbench.blueprint)
    areas = (records, inbox_pages, admin, job_pages, address_pages, automation_pages, api)
    designer_pages.init_app(app)
    dashboard_pages.init_app(app)
    for area in (
        *areas,
        token_pages,
        delegation_pages,
        account_pages,
        notification_pages,
        audit_pages,
        monitoring_pages,
        transfer_pages,
    ):
        area.init_app(app)
    with app.app_context():
        plugin_pages.init_app(app)
    app.context_processor(navigation.context_processor)
    instance.plugins.start(instance, app)
    return app


def _share_reads_per_request(app: Flask, instance: Instance) -> None:
    """Every read a request makes shares one transaction (and one pooled connection)."""

    @app.before_request
    def _begin() -> None:
        stack = ExitStack()
        stack.enter_context(shared_reads(instance.engine))
        g.formflow_reads = stack

    @app.teardown_request
    def _end(_error: BaseException | None) -> None:
        stack: ExitStack | None = g.pop("formflow_reads", None)
        if stack is not None:
            stack.close()


class PageSessions(SecureCookieSessionInterface):
    """The signed session cookie, for pages only.

    The API signs in by token and never by cookie (:mod:`formflow.web.api`), so its
    requests neither read the cookie nor send one back: each gets an empty session of its
    own, whatever a browser sends along. Checking the cookie's signature, and answering
    with it, were about a twentieth of an API read's CPU in `cProfile`.
    """

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if _is_api(request.path):
            return self.session_class()
        return super().open_session(app, request)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        if not _is_api(request.path):
            super().save_session(app, session, response)


def _is_api(path: str) -> bool:
    return path.startswith(_API_PATHS)


_API_PATHS = openapi.PREFIX + "/"
