# mypy: disable-error-code="empty-body"
"""Every hook a Formflow plugin can implement, in one place.

Each hook below is an empty function: its signature is the promise and its docstring says
when Formflow calls it, what it passes and what it expects back. A plugin implements a hook
by defining a function of the same name marked with :data:`hookimpl`, taking any subset of
the hook's arguments by name. ``docs/plugins.md`` has one section per hook, and a test fails
when a hook lacks that section or a test of its own.

Hooks are always called with keyword arguments, so they grow only by adding arguments;
a hook that is retired is kept with pluggy's ``warn_on_impl`` rather than deleted. None of
these hooks stops at the first answer (none is ``firstresult``).

(mypy's ``empty-body`` check is off for this module: the bodies are meant to be empty.)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import click
    from flask import Blueprint, Flask

    from formflow.actions import Action
    from formflow.definitions.model import Form
    from formflow.events import Subscriber
    from formflow.fields import FieldType
    from formflow.jobs.plugin_jobs import PluginJob
    from formflow.lifecycle.instance import Instance
    from formflow.notifications import Channel
    from formflow.plugin_kit import Button, PluginSetting
    from formflow.records.access import Actor

PROJECT = "formflow"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)
"""Marks a plugin's function as the implementation of the hook of the same name."""


class Veto(Exception):
    """Raised by a ``before`` hook to refuse a change; the message is shown to the user."""


@hookspec
def formflow_field_types() -> list[FieldType]:
    """Field types this plugin adds, for app definitions to use as ``type: <name>``.

    Called once, when the plugins are loaded. Each :class:`~formflow.fields.FieldType`
    gives its storage kind, what lists may do with it, ``coerce`` to check and convert
    submitted values, and ``options_schema``, a JSON Schema for the field keys it reads.

    Every implementation's list is used. A name already taken, by a built-in type or by
    another plugin, stops loading with :class:`~formflow.plugins.PluginLoadError`.
    """


@hookspec
def formflow_expression_functions() -> dict[str, Callable[..., Any]]:
    """Functions that expressions in app definitions may call, by name.

    Called once, when the plugins are loaded. The functions run inside the expression
    sandbox, so they receive plain values and should return plain values without side
    effects.

    Every implementation's functions are used. A name given by two plugins, or one that
    hides an expression's own names (``user``, ``today``, ``now``), stops loading with
    :class:`~formflow.plugins.PluginLoadError`.
    """


@hookspec
def formflow_actions() -> list[Action]:
    """Named actions that workflows and automations may run.

    Called once, when the plugins are loaded. Each :class:`~formflow.actions.Action` has a
    name, a label, a JSON Schema for its parameters and the function that runs it.

    Every implementation's list is used. Two actions with one name stop loading with
    :class:`~formflow.plugins.PluginLoadError`.
    """


@hookspec
def formflow_notification_channels() -> list[Channel]:
    """Outside channels that notifications go out on, beside the app and e-mail.

    Called once, when the plugins are loaded. Each channel has a ``key`` (unique among
    channels; ``email`` is the built-in one), a ``label`` and
    ``send(notification, recipient)``, which a background job calls after the change that
    caused the notification committed: it raises to be tried again with back-off, and
    returns ``False`` when it cannot reach that person. See
    :class:`~formflow.notifications.Channel`.

    Every implementation's list is used. Two channels with one key stop loading with
    :class:`~formflow.plugins.PluginLoadError`.
    """


@hookspec
def formflow_before_create(
    app_key: str, form: Form, values: Mapping[str, Any], user_id: int | None
) -> str | None:
    """Called before a record is created, inside the transaction that creates it.

    ``values`` are the record's checked values by field key, read-only; ``user_id`` is the
    user creating it, or ``None`` when Formflow itself does (an automation, an import).

    Return ``None`` to allow the record, or refuse it by returning a message or raising
    :class:`Veto`; the message reaches the user and nothing is written. Every
    implementation runs in turn until one refuses.
    """


@hookspec
def formflow_after_create(
    app_key: str, form: Form, record: Mapping[str, Any], user_id: int | None
) -> None:
    """Called after a created record has been committed.

    ``record`` is the stored record, system fields included, as JSON keeps it (dates and
    decimals as ISO text). Every implementation runs; the return value is ignored, and an
    exception is logged but cannot undo the write.

    After-hooks are a subscriber of the events outbox: they run once the write's unit of
    work has committed, and at least once, even when the process dies in between.
    """


@hookspec
def formflow_before_update(
    app_key: str,
    form: Form,
    record_id: int,
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    user_id: int | None,
) -> str | None:
    """Called before a record is updated, inside the transaction that updates it.

    ``old`` is the record as stored; ``new`` is the record as it will be stored, every
    field included, not only the changed ones. Both are read-only.

    Return ``None`` to allow the change, or refuse it by returning a message or raising
    :class:`Veto`. Every implementation runs in turn until one refuses.
    """


@hookspec
def formflow_after_update(
    app_key: str,
    form: Form,
    record: Mapping[str, Any],
    changes: Mapping[str, tuple[Any, Any]],
    user_id: int | None,
) -> None:
    """Called after an updated record has been committed.

    ``record`` is the record as now stored; ``changes`` maps each changed field key to its
    ``(old, new)`` values; both as JSON keeps them. Every implementation runs; the return value is ignored, and an
    exception is logged but cannot undo the write.
    """


@hookspec
def formflow_before_delete(
    app_key: str, form: Form, record: Mapping[str, Any], user_id: int | None
) -> str | None:
    """Called before a record is deleted, inside the transaction that deletes it.

    Return ``None`` to allow the deletion, or refuse it by returning a message or raising
    :class:`Veto`. Every implementation runs in turn until one refuses.
    """


@hookspec
def formflow_after_delete(
    app_key: str, form: Form, record: Mapping[str, Any], user_id: int | None
) -> None:
    """Called after a deletion has been committed; ``record`` is the record as it was.

    Every implementation runs; the return value is ignored, and an exception is logged but
    cannot undo the deletion.
    """


@hookspec
def formflow_blueprints() -> list[Blueprint]:
    """Flask blueprints with the plugin's own pages and API routes.

    Called once, when the web app is built. Each blueprint is mounted under
    ``/plugins/<blueprint name>``, whatever ``url_prefix`` it names, and gets the app's
    protections: a visitor must be signed in (views marked with
    :func:`formflow.plugin_kit.public` excepted), every ``POST``, ``PUT``, ``PATCH`` and
    ``DELETE`` must carry the CSRF token, and views check permissions on records with
    :func:`formflow.plugin_kit.require`.

    Every implementation's list is used. Two blueprints with one name stop loading with
    :class:`~formflow.plugins.PluginLoadError`.
    """


@hookspec
def formflow_template_dirs() -> list[Path]:
    """Folders of Jinja templates: the plugin's own pages, and overrides of Formflow's.

    Called once, when the web app is built. Templates are looked up in the instance's
    ``templates/`` folder, then in the plugins' folders, then in Formflow's own. A template
    that replaces one of Formflow's may extend the original by its ``formflow/`` name:
    ``{% extends "formflow/records/detail.html" %}``.

    Every implementation's folders are used, in the order the plugins were loaded.
    """


@hookspec
def formflow_commands() -> list[click.Command]:
    """Click commands (or groups) to add to the ``formflow`` command line.

    Called when the ``formflow`` command starts, with the plugins of the instance that
    ``FORMFLOW_*`` variables name. A command's name may not be one of Formflow's own.

    Every implementation's list is used.
    """


@hookspec
def formflow_settings() -> list[PluginSetting]:
    """The settings the plugin reads, for administrators to set on its settings page.

    Called once, when the plugins are loaded. Each :class:`~formflow.plugin_kit.PluginSetting`
    has a key, a label, a default and whether it is a secret. Secrets are stored encrypted
    with a key derived from the instance's secret key and are never shown again, only
    replaced. The plugin reads its values with :func:`formflow.plugin_kit.settings_of`.

    Every implementation's list is used; the settings belong to the implementing plugin.
    """


@hookspec
def formflow_record_buttons(
    app_key: str, form: Form, record: Mapping[str, Any], actor: Actor
) -> list[Button]:
    """Buttons to show on a record's page, for ``actor`` who is looking at ``record``.

    Called each time the page is shown. Return :class:`~formflow.plugin_kit.Button` values
    (a label and a link, usually to one of the plugin's pages), or an empty list for a form
    or a user the plugin has nothing for. Every implementation's buttons are shown.
    """


@hookspec
def formflow_list_buttons(app_key: str, form: Form, actor: Actor) -> list[Button]:
    """Buttons to show above a form's list of records, for ``actor``.

    Called each time the list is shown. Every implementation's buttons are shown.
    """


@hookspec
def formflow_startup(instance: Instance, app: Flask) -> None:
    """Called once the web app serving ``instance`` is built, before its first request.

    For checks and preparation a plugin needs once per process: warm a cache, check its
    settings. An exception stops start-up with the plugin named. The return value is
    ignored.
    """


@hookspec
def formflow_event_subscribers() -> dict[str, Subscriber]:
    """Subscribers of the events outbox, by a name unique in the instance.

    Called once, when the plugins are loaded. Each subscriber is called as
    ``subscriber(event, key)`` for every record event committed after it was first seen,
    at least once and in order; ``key`` is the same on every delivery of one event, so the
    subscriber can ignore repeats. Raising keeps the event to be retried with back-off.
    A subscriber with a ``handle_many(deliveries)`` method as well
    (:class:`~formflow.events.BatchSubscriber`) is handed the events due together, as a
    list of ``(event, key)`` in order, so it can act on them in one transaction; if that
    raises, they come again one at a time through its call.

    Every implementation's subscribers are used; a name given twice stops loading with
    :class:`~formflow.plugins.PluginLoadError`.
    """


@hookspec
def formflow_jobs() -> list[PluginJob]:
    """Named background jobs the plugin runs with :func:`formflow.plugin_kit.enqueue`.

    Called once, when the plugins are loaded. Each :class:`~formflow.plugin_kit.PluginJob`
    names a function called with a :class:`~formflow.plugin_kit.JobRun` (its payload, its
    attempt, the instance) on the instance's job queue: in the server's threads under
    ``formflow serve``, in ``formflow worker`` processes on Redis. A job that raises is
    retried with doubling waits; after its last retry it is listed with the dead letters
    (``/admin/jobs/dead``, ``formflow jobs failed``) for an administrator to run again. A
    run may be repeated after a crash, so the function must be idempotent: record progress
    as it goes and skip what is done.

    Every implementation's list is used; a name given twice stops loading with
    :class:`~formflow.plugins.PluginLoadError`.
    """
