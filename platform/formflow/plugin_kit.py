"""What a plugin's code works with: its settings, buttons, and its pages' protections.

The hooks in :mod:`formflow.hookspecs` say *when* a plugin is called; this module holds
the values they exchange (:class:`PluginSetting`, :class:`Button`, :class:`PluginJob`) and
the helpers a plugin's code uses to act as the app does: :func:`require` checks a
permission as the record pages do, :func:`public` opens one view to visitors who are not
signed in (a delivery callback, say), :func:`settings_of` reads the plugin's settings,
:func:`enqueue` runs one of its jobs in the background, and :func:`render_template` renders
a template a user wrote in the engine's budgeted sandbox.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from jinja2 import StrictUndefined

from formflow.definitions.model import Label
from formflow.expressions import ExpressionEngine, ExpressionError, ExpressionLimit
from formflow.jobs.plugin_jobs import JobRun, PluginJob, PluginJobError

if TYPE_CHECKING:
    from formflow.definitions.model import Form
    from formflow.lifecycle.instance import Instance
    from formflow.records.access import Actor

__all__ = [
    "Button",
    "ExpressionError",
    "ExpressionLimit",
    "JobRun",
    "PluginJob",
    "PluginJobError",
    "PluginSetting",
    "current_actor",
    "current_instance",
    "enqueue",
    "is_public",
    "public",
    "render_template",
    "require",
    "require_admin",
    "settings_of",
]

F = TypeVar("F", bound=Callable[..., Any])

PUBLIC_MARK = "_formflow_public"


@dataclass(frozen=True)
class PluginSetting:
    """One setting of a plugin, as its settings page shows it.

    ``secret`` settings (an API key, a password) are stored encrypted and never shown back:
    the page says whether one is set and takes a new value to replace it.
    """

    key: str
    label: Label
    default: str = ""
    secret: bool = False
    help: Label | None = None


@dataclass(frozen=True)
class Button:
    """A button a plugin adds to a record's page or above a list of records.

    ``url`` is where it leads, usually one of the plugin's own pages; ``method`` ``post``
    makes it a small form that sends the page's CSRF token.
    """

    label: str
    url: str
    method: Literal["get", "post"] = "get"
    primary: bool = False


def public(view: F) -> F:
    """Let visitors who are not signed in reach this plugin view (CSRF checks still apply
    to forms unless the plugin exempts the view with ``csrf.exempt``)."""
    setattr(view, PUBLIC_MARK, True)
    return view


def is_public(view: Callable[..., Any] | None) -> bool:
    return bool(getattr(view, PUBLIC_MARK, False))


def current_instance() -> Instance:
    """The instance the current request is served by."""
    from formflow.web import context

    return context.instance()


def current_actor(app_key: str) -> Actor:
    """Who the signed-in user acts as in ``app_key``: their roles and reach."""
    from formflow.web import context

    return context.actor(app_key)


def require(app_key: str, form_key: str, operation: str) -> tuple[Actor, Form]:
    """The signed-in user's actor and the form, if they may ``operation`` (``read``,
    ``create``, ``update``, ``delete``) records of ``form_key``; otherwise raise
    :class:`~formflow.errors.PermissionDenied` (a 403 page, or the API's error shape)."""
    from formflow.definitions.model import Operation
    from formflow.records.access import require as require_scope

    form = current_instance().app(app_key).form(form_key)
    actor = current_actor(app_key)
    require_scope(actor, form, Operation(operation))
    return actor, form


def require_admin() -> None:
    """Raise :class:`~formflow.errors.PermissionDenied` (a 403) unless the signed-in user
    is an administrator: for a plugin's pages that span every app (an instance-wide list)."""
    from flask_babel import gettext

    from formflow.errors import PermissionDenied
    from formflow.web import context

    if not context.user().is_admin:
        raise PermissionDenied(gettext("Only administrators may open this page."))


def settings_of(plugin: str, instance: Instance | None = None) -> Mapping[str, str]:
    """The values of ``plugin``'s settings (defaults for those never set, secrets
    decrypted), in ``instance`` or the one serving the current request."""
    return (instance or current_instance()).plugin_settings.values(plugin)


def enqueue(
    name: str, payload: Mapping[str, Any] | None = None, instance: Instance | None = None
) -> int:
    """Run the plugin job ``name`` (declared with ``formflow_jobs``) in the background
    with the JSON ``payload``, in ``instance`` or the one serving the current request;
    the job's id.

    The job is recorded inside the caller's unit of work when one is open, so it runs only
    if that work commits; otherwise at once. Raises :class:`PluginJobError` for an unknown
    name or a payload that is not JSON.
    """
    return (instance or current_instance()).plugin_jobs.enqueue(name, payload)


_templates = ExpressionEngine({"range": range}, undefined=StrictUndefined)
"""The sandbox plugins' templates render in: the core's budget, Jinja2's ``range`` (safe
here, since every loop turn and every value counts), and no other globals."""


def render_template(source: str, names: Mapping[str, Any]) -> str:
    """``source``, a template a user wrote (a message to send, a text to fill in), rendered
    over ``names`` in the same budgeted sandbox as the engine's notifications and webhook
    bodies: its operations, loop turns, calls and output are counted, so no template can
    take the server's memory or minutes of its time.

    A name ``names`` lacks is an error rather than an empty text: a message sent to many
    people is better refused than sent with a hole in it. Raises
    :class:`~formflow.expressions.ExpressionLimit` when the template goes past the budget
    (the message says which limit), :class:`~formflow.expressions.ExpressionError` when it
    fails otherwise (a syntax error, an unknown name, an unsafe attribute).
    """
    return _templates.render(source, names)
