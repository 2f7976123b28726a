"""Finding, checking and calling plugins.

:func:`load_plugins` registers Formflow's built-in plugin, then every entry point in the
``formflow`` group, every ``*.py`` file in the plugins folder and any objects passed in, and
checks them all before anything else starts: a misspelt hook, a clashing name or a file that
does not import stops start-up with a :class:`PluginLoadError` that names the plugin.

Each implementation is called on its own, rather than through pluggy's hook call, so that a
veto or a failure is reported with the name of the plugin it came from.
"""

from __future__ import annotations

import difflib
import importlib.util
import logging
import sys
import traceback
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from importlib import metadata
from pathlib import Path
from types import MappingProxyType, ModuleType
from typing import TYPE_CHECKING, Any, TypeVar

import click
import pluggy
from flask import Blueprint
from jsonschema import Draft202012Validator, SchemaError

from formflow import __version__, defaults, hookspecs
from formflow.actions import Action
from formflow.automations.params import BUILTIN_PARAMS
from formflow.definitions.compiling import CONTEXT_NAMES
from formflow.definitions.toolkit import Toolkit
from formflow.errors import FormflowError, PluginFailed, VetoedByPlugin
from formflow.expressions import ExpressionEngine
from formflow.fields import FieldType, FieldTypeRegistry
from formflow.hookspecs import PROJECT, Veto
from formflow.jobs.plugin_jobs import PluginJob
from formflow.notifications.email import EmailChannel
from formflow.notifications.model import Channel
from formflow.plugin_kit import Button, PluginSetting

if TYPE_CHECKING:
    from flask import Flask

    from formflow.events import Subscriber
    from formflow.lifecycle.instance import Instance

logger = logging.getLogger("formflow.plugins")

BEFORE_HOOKS = frozenset(
    {"formflow_before_create", "formflow_before_update", "formflow_before_delete"}
)
AFTER_HOOKS = frozenset({"formflow_after_create", "formflow_after_update", "formflow_after_delete"})
DIR_MODULE_PREFIX = "formflow_plugins_dir"
"""Plugin files are imported as ``formflow_plugins_dir.<file stem>``."""

T = TypeVar("T")

USES: Mapping[str, str] = MappingProxyType(
    {
        "formflow_field_types": "field_types",
        "formflow_expression_functions": "expression_engine",
        "formflow_actions": "actions",
        "formflow_before_create": "run_before",
        "formflow_before_update": "run_before",
        "formflow_before_delete": "run_before",
        "formflow_after_create": "run_after",
        "formflow_after_update": "run_after",
        "formflow_after_delete": "run_after",
        "formflow_blueprints": "blueprints",
        "formflow_template_dirs": "template_dirs",
        "formflow_commands": "commands",
        "formflow_settings": "settings",
        "formflow_record_buttons": "record_buttons",
        "formflow_list_buttons": "list_buttons",
        "formflow_startup": "start",
        "formflow_event_subscribers": "event_subscribers",
        "formflow_notification_channels": "notification_channels",
        "formflow_jobs": "jobs",
    }
)
"""Each hook, and the :class:`Plugins` member through which Formflow uses its answers; a
test checks every hook is here and every member is used outside this module."""


class PluginLoadError(FormflowError):
    """A plugin that cannot be used; the message names it and says what is wrong."""


class Source(StrEnum):
    """Where a plugin came from, in the order sources are loaded."""

    BUILTIN = "builtin"
    ENTRY_POINT = "entry point"
    PLUGINS_DIR = "plugins dir"
    EXTRA = "extra"


@dataclass(frozen=True)
class PluginInfo:
    """What ``formflow plugins`` shows about one plugin."""

    name: str
    source: Source
    hooks: tuple[str, ...]
    version: str | None = None
    enabled: bool = True


class Plugins:
    """The loaded plugins, and what they contribute; build it with :func:`load_plugins`."""

    def __init__(self, manager: pluggy.PluginManager, infos: Mapping[str, PluginInfo]) -> None:
        self._manager = manager
        self._infos = infos
        self._field_types = FieldTypeRegistry(self._collect_field_types())
        self._expression_engine = ExpressionEngine(self._collect_functions())
        self._actions = MappingProxyType(self._collect_actions())
        self._channels = tuple(self._collect_channels())
        self._blueprints = self._collect_blueprints()
        self._template_dirs = self._collect_template_dirs()
        self._commands = self._collect_commands()
        self._settings = MappingProxyType(self._collect_settings())
        self._subscribers = MappingProxyType(self._collect_subscribers())
        self._jobs = MappingProxyType(self._collect_jobs())

    @property
    def field_types(self) -> FieldTypeRegistry:
        """The built-in field types, then those plugins add."""
        return self._field_types

    @property
    def expression_engine(self) -> ExpressionEngine:
        """An expression engine that knows every plugin's functions."""
        return self._expression_engine

    @property
    def toolkit(self) -> Toolkit:
        """The field types and expression functions definitions may use, as one value."""
        schemas = {name: action.params_schema for name, action in self.actions.items()}
        return Toolkit(self.field_types, self.expression_engine, {**BUILTIN_PARAMS, **schemas})

    @property
    def actions(self) -> Mapping[str, Action]:
        """Every plugin action, by name."""
        return self._actions

    @property
    def notification_channels(self) -> tuple[Channel, ...]:
        """Every outside channel plugins add for notifications, in loading order."""
        return self._channels

    @property
    def blueprints(self) -> list[tuple[str, Blueprint]]:
        """Each plugin blueprint with the name of the plugin that gave it."""
        return list(self._blueprints)

    @property
    def template_dirs(self) -> list[Path]:
        """The plugins' template folders, in the order the plugins were loaded."""
        return list(self._template_dirs)

    @property
    def commands(self) -> list[click.Command]:
        """The plugins' commands for the ``formflow`` command line."""
        return list(self._commands)

    @property
    def settings(self) -> Mapping[str, tuple[PluginSetting, ...]]:
        """The settings each plugin declares, by plugin name (plugins with none left out)."""
        return self._settings

    @property
    def event_subscribers(self) -> Mapping[str, Subscriber]:
        """The plugins' outbox subscribers, by name."""
        return self._subscribers

    @property
    def jobs(self) -> Mapping[str, PluginJob]:
        """The plugins' background jobs, by name."""
        return self._jobs

    def record_buttons(
        self, app_key: str, form: Any, record: Mapping[str, Any], actor: Any
    ) -> list[Button]:
        """Every plugin's buttons for one record's page."""
        kwargs = {"app_key": app_key, "form": form, "record": record, "actor": actor}
        return self._buttons("formflow_record_buttons", kwargs)

    def list_buttons(self, app_key: str, form: Any, actor: Any) -> list[Button]:
        """Every plugin's buttons for a form's list page."""
        return self._buttons(
            "formflow_list_buttons", {"app_key": app_key, "form": form, "actor": actor}
        )

    def start(self, instance: Instance, app: Flask) -> None:
        """Run every ``formflow_startup``; a failure stops start-up with the plugin named."""
        caller: pluggy.HookCaller = self._manager.hook.formflow_startup
        for impl in reversed(caller.get_hookimpls()):
            try:
                _call(impl, {"instance": instance, "app": app})
            except Exception as exc:
                raise PluginLoadError(
                    f"plugin {impl.plugin_name!r} failed in formflow_startup: {_describe(exc)}"
                ) from exc

    def _buttons(self, hook: str, kwargs: Mapping[str, Any]) -> list[Button]:
        caller: pluggy.HookCaller = getattr(self._manager.hook, hook)
        buttons: list[Button] = []
        for impl in reversed(caller.get_hookimpls()):
            try:
                answer = _call(impl, kwargs)
            except Exception:
                logger.exception(
                    "plugin %r failed in %s; its buttons are left out", impl.plugin_name, hook
                )
                continue
            if isinstance(answer, list | tuple):
                buttons.extend(b for b in answer if isinstance(b, Button))
        return buttons

    def implements(self, hook_name: str) -> bool:
        """Whether any plugin implements ``hook_name``."""
        caller: pluggy.HookCaller = getattr(self._manager.hook, hook_name)
        return bool(caller.get_hookimpls())

    def run_before(self, hook_name: str, **kwargs: Any) -> None:
        """Run a ``before`` hook's implementations in turn; raise if one refuses or fails.

        Raises :class:`~formflow.errors.VetoedByPlugin` for a :class:`~formflow.Veto` or a
        returned message, and :class:`~formflow.errors.PluginFailed` for any other error.
        """
        for impl in self._event_impls(hook_name, BEFORE_HOOKS, kwargs):
            try:
                answer = _call(impl, kwargs)
            except Veto as veto:
                raise VetoedByPlugin(impl.plugin_name, _refusal(impl, str(veto))) from veto
            except Exception as exc:
                raise PluginFailed(impl.plugin_name, hook_name, exc) from exc
            if isinstance(answer, str):
                raise VetoedByPlugin(impl.plugin_name, _refusal(impl, answer))
            if answer is not None:
                error = TypeError(f"returned {answer!r}; return None, or a message to refuse")
                raise PluginFailed(impl.plugin_name, hook_name, error)

    def run_after(self, hook_name: str, **kwargs: Any) -> list[PluginFailed]:
        """Run every implementation of an ``after`` hook; log and return failures, never raise."""
        failures: list[PluginFailed] = []
        for impl in self._event_impls(hook_name, AFTER_HOOKS, kwargs):
            try:
                _call(impl, kwargs)
            except Exception as exc:
                logger.error(
                    "plugin %r failed in %s; the change stays committed",
                    impl.plugin_name,
                    hook_name,
                    exc_info=exc,
                )
                failure = PluginFailed(impl.plugin_name, hook_name, exc)
                failure.__cause__ = exc
                failures.append(failure)
        return failures

    def describe(self) -> list[PluginInfo]:
        """Every plugin, built-in first, then by source and name."""
        order = list(Source)
        return sorted(self._infos.values(), key=lambda info: (order.index(info.source), info.name))

    def _event_impls(
        self, hook_name: str, allowed: frozenset[str], kwargs: Mapping[str, Any]
    ) -> list[pluggy.HookImpl]:
        if hook_name not in allowed:
            raise ValueError(f"{hook_name!r} is not one of {', '.join(sorted(allowed))}")
        caller: pluggy.HookCaller = getattr(self._manager.hook, hook_name)
        assert caller.spec is not None
        expected = {*caller.spec.argnames, *caller.spec.kwargnames}
        if set(kwargs) != expected:
            raise TypeError(f"{hook_name} takes {sorted(expected)}, not {sorted(kwargs)}")
        return list(reversed(caller.get_hookimpls()))  # pluggy's calling order

    def _answers(self, hook_name: str) -> list[tuple[str, object]]:
        """Each implementation's answer with its plugin's name, built-in plugin first."""
        caller: pluggy.HookCaller = getattr(self._manager.hook, hook_name)
        answers: list[tuple[str, object]] = []
        for impl in reversed(caller.get_hookimpls()):
            try:
                answer = _call(impl, {})
            except Exception as exc:
                message = f"plugin {impl.plugin_name!r} failed in {hook_name}: {_describe(exc)}"
                raise PluginLoadError(message) from exc
            if answer is not None:
                answers.append((impl.plugin_name, answer))
        return sorted(answers, key=lambda item: self._infos[item[0]].source is not Source.BUILTIN)

    def _named(
        self, hook: str, item_type: type[T], what: str, name: Callable[[T], str]
    ) -> Iterator[tuple[str, T]]:
        """Each item of the lists the plugins answer ``hook`` with, and its plugin's name,
        built-in plugin first; an item named like an earlier one (``what`` says of what,
        ``name`` reads the name) stops the load, since only one of them could be used."""
        owners: dict[str, str] = {}
        for plugin, answer in self._answers(hook):
            for item in _list_of(item_type, answer, plugin, hook):
                self._claim(owners, what, name(item), plugin)
                yield plugin, item

    def _collect_field_types(self) -> list[FieldType]:
        types: list[FieldType] = []
        for plugin, field_type in self._named(
            "formflow_field_types", FieldType, "field type", lambda found: found.name
        ):
            if field_type.options_schema is not None:
                _check_schema(field_type.options_schema, plugin, f"field type {field_type.name!r}")
            types.append(field_type)
        return types

    def _collect_functions(self) -> dict[str, Callable[..., Any]]:
        hook = "formflow_expression_functions"
        owners: dict[str, str] = {}
        functions: dict[str, Callable[..., Any]] = {}
        for plugin, answer in self._answers(hook):
            if not isinstance(answer, Mapping):
                raise PluginLoadError(
                    f"plugin {plugin!r}: {hook} must return a dict, not {answer!r}"
                )
            for name, function in answer.items():
                if not (isinstance(name, str) and name.isidentifier() and callable(function)):
                    message = f"plugin {plugin!r}: {hook} must map names to functions, not {name!r}: {function!r}"
                    raise PluginLoadError(message)
                if name in CONTEXT_NAMES:
                    message = f"plugin {plugin!r}: every expression reads {name!r} already; choose another name for the function"
                    raise PluginLoadError(message)
                self._claim(owners, "expression function", name, plugin)
                functions[name] = function
        return functions

    def _collect_actions(self) -> dict[str, Action]:
        actions: dict[str, Action] = {}
        for plugin, action in self._named(
            "formflow_actions", Action, "action", lambda found: found.name
        ):
            _check_schema(action.params_schema, plugin, f"action {action.name!r}")
            actions[action.name] = action
        return actions

    def _collect_channels(self) -> list[Channel]:
        channels: list[Channel] = []
        for plugin, channel in self._named(
            "formflow_notification_channels",
            Channel,  # type: ignore[type-abstract]
            "notification channel",
            lambda found: found.key,
        ):
            if channel.key == EmailChannel.key:
                raise PluginLoadError(
                    f"plugin {plugin!r} cannot replace the built-in channel {channel.key!r}; choose another key"
                )
            channels.append(channel)
        return channels

    def _collect_blueprints(self) -> list[tuple[str, Blueprint]]:
        return list(
            self._named("formflow_blueprints", Blueprint, "blueprint", lambda found: found.name)
        )

    def _collect_template_dirs(self) -> list[Path]:
        hook = "formflow_template_dirs"
        folders: list[Path] = []
        for plugin, answer in self._answers(hook):
            for folder in _list_of(Path, answer, plugin, hook):
                if not folder.is_dir():
                    raise PluginLoadError(
                        f"plugin {plugin!r}: template folder {folder} does not exist"
                    )
                folders.append(folder)
        return folders

    def _collect_commands(self) -> list[click.Command]:
        named = self._named(
            "formflow_commands", click.Command, "command", lambda found: found.name or ""
        )
        return [command for _plugin, command in named]

    def _collect_settings(self) -> dict[str, tuple[PluginSetting, ...]]:
        hook = "formflow_settings"
        found: dict[str, tuple[PluginSetting, ...]] = {}
        for plugin, answer in self._answers(hook):
            settings = _list_of(PluginSetting, answer, plugin, hook)
            owners: dict[str, str] = {}
            for setting in settings:
                self._claim(owners, "setting", setting.key, plugin)
            found[plugin] = (*found.get(plugin, ()), *settings)
        return found

    def _collect_subscribers(self) -> dict[str, Subscriber]:
        hook = "formflow_event_subscribers"
        owners: dict[str, str] = {}
        found: dict[str, Subscriber] = {}
        for plugin, answer in self._answers(hook):
            if not isinstance(answer, Mapping) or not all(
                isinstance(name, str) and callable(subscriber)
                for name, subscriber in answer.items()
            ):
                raise PluginLoadError(
                    f"plugin {plugin!r}: {hook} must map names to functions, not {answer!r}"
                )
            for name, subscriber in answer.items():
                self._claim(owners, "event subscriber", name, plugin)
                found[name] = subscriber
        return found

    def _collect_jobs(self) -> dict[str, PluginJob]:
        named = self._named("formflow_jobs", PluginJob, "job", lambda found: found.name)
        return {job.name: job for _plugin, job in named}

    def _claim(self, owners: dict[str, str], what: str, name: str, plugin: str) -> None:
        owner = owners.get(name)
        if owner is None:
            owners[name] = plugin
            return
        if owner == plugin:
            raise PluginLoadError(f"plugin {plugin!r} provides the {what} {name!r} twice")
        if self._infos[owner].source is Source.BUILTIN:
            raise PluginLoadError(
                f"plugin {plugin!r} cannot replace the built-in {what} {name!r}; choose another name"
            )
        first, second = sorted((owner, plugin))
        raise PluginLoadError(
            f"plugins {first!r} and {second!r} both provide the {what} {name!r}; rename one"
        )


def load_plugins(
    *,
    plugins_dir: Path | None = None,
    entry_points: bool = True,
    extra: Sequence[object] = (),
    enabled: Collection[str] | None = None,
) -> Plugins:
    """Register and check every plugin; raise :class:`PluginLoadError` if one cannot be used.

    Plugins come from, in order: Formflow's built-in plugin, entry points in the
    ``formflow`` group (unless ``entry_points`` is false), the ``*.py`` files of
    ``plugins_dir``, and the ``extra`` objects (modules or instances with hook methods).
    ``enabled`` names the entry points this instance uses (``*`` for all of them); the
    others are listed, as disabled, but not loaded. ``None`` enables all.
    """
    manager = pluggy.PluginManager(PROJECT)
    manager.add_hookspecs(hookspecs)
    infos: dict[str, PluginInfo] = {}
    for name, module in defaults.PLUGINS.items():
        _register(manager, infos, module, name, Source.BUILTIN, __version__)
    if entry_points:
        for entry_point in metadata.entry_points(group=PROJECT):
            version = entry_point.dist.version if entry_point.dist is not None else None
            if enabled is not None and "*" not in enabled and entry_point.name not in enabled:
                infos[entry_point.name] = PluginInfo(
                    entry_point.name, Source.ENTRY_POINT, (), version, enabled=False
                )
                continue
            plugin = _load_entry_point(entry_point)
            _register(manager, infos, plugin, entry_point.name, Source.ENTRY_POINT, version)
        _check_enabled_installed(enabled, infos)
    if plugins_dir is not None:
        for path in _plugin_files(plugins_dir):
            _register(manager, infos, _import_file(path), path.name, Source.PLUGINS_DIR)
    for plugin in extra:
        _register(manager, infos, plugin, _unique_name(plugin, infos), Source.EXTRA)
    _check_pending(manager)
    return Plugins(manager, infos)


def _check_enabled_installed(enabled: Collection[str] | None, infos: dict[str, PluginInfo]) -> None:
    """Refuse a name in FORMFLOW_PLUGINS that no installed entry point has: a typo or a
    package missing on this machine would otherwise leave the plugin off without a word."""
    if enabled is None or "*" in enabled:
        return
    missing = [name for name in enabled if name not in infos]
    if missing:
        installed = sorted(
            name for name, info in infos.items() if info.source is Source.ENTRY_POINT
        )
        raise PluginLoadError(
            f"FORMFLOW_PLUGINS names {', '.join(map(repr, missing))}, which is not installed "
            f"(installed: {', '.join(installed) or 'none'})"
        )


def describe_plugins(plugins: Plugins) -> list[PluginInfo]:
    """Every loaded plugin, for ``formflow plugins``."""
    return plugins.describe()


def format_plugin_table(infos: Iterable[PluginInfo]) -> str:
    """The plugins as plain aligned columns: name, source, version and hooks."""
    rows = [("name", "source", "version", "hooks")]
    rows += [
        (
            info.name,
            info.source.value,
            info.version or "-",
            ", ".join(info.hooks) or "-" if info.enabled else "(disabled in this instance)",
        )
        for info in infos
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    lines = [
        "  ".join([*(cell.ljust(width) for cell, width in zip(row, widths, strict=False)), row[3]])
        for row in rows
    ]
    return "\n".join(lines)


def _register(
    manager: pluggy.PluginManager,
    infos: dict[str, PluginInfo],
    plugin: object,
    name: str,
    source: Source,
    version: str | None = None,
) -> None:
    if manager.is_registered(plugin):
        return  # the same module reached twice, e.g. listed by two distributions
    if name in infos:
        raise PluginLoadError(
            f"two plugins are named {name!r} (from {infos[name].source} and {source}); rename one"
        )
    try:
        manager.register(plugin, name)
    except pluggy.PluginValidationError as exc:
        raise PluginLoadError(f"plugin {name!r}: {' '.join(str(exc).split())}") from None
    hooks = manager.get_hookcallers(plugin) or []
    for caller in hooks:
        if any(
            impl.plugin is plugin and (impl.wrapper or impl.hookwrapper)
            for impl in caller.get_hookimpls()
        ):
            raise PluginLoadError(
                f"plugin {name!r}: {caller.name} is a hook wrapper; Formflow hooks take plain functions only"
            )
    infos[name] = PluginInfo(name, source, tuple(sorted(caller.name for caller in hooks)), version)


def _check_pending(manager: pluggy.PluginManager) -> None:
    try:
        manager.check_pending()
    except pluggy.PluginValidationError:
        known = [name for name in vars(hookspecs) if name.startswith(f"{PROJECT}_")]
        problems = [
            f"plugin {impl.plugin_name!r} implements {name!r}, which is not a Formflow hook"
            + _suggest(name, known)
            for name, caller in sorted(vars(manager.hook).items())
            if not name.startswith("_") and not caller.has_spec()
            for impl in caller.get_hookimpls()
            if not impl.optionalhook
        ]
        raise PluginLoadError("\n".join(problems)) from None


def _load_entry_point(entry_point: metadata.EntryPoint) -> object:
    try:
        return entry_point.load()
    except Exception as exc:
        where = f" in {entry_point.dist.name}" if entry_point.dist is not None else ""
        raise PluginLoadError(
            f"entry point {entry_point.name!r} = {entry_point.value!r}{where} cannot be loaded: {_describe(exc)}"
        ) from exc


def _plugin_files(plugins_dir: Path) -> list[Path]:
    if not plugins_dir.is_dir():
        raise PluginLoadError(f"{plugins_dir}: the plugins folder does not exist")
    return sorted(plugins_dir.glob("*.py"))


def _import_file(path: Path) -> ModuleType:
    name = f"{DIR_MODULE_PREFIX}.{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look modules up here
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise PluginLoadError(
            f"{_place(path, exc)}: plugin file cannot be imported: {_describe(exc)}; fix or remove it"
        ) from exc
    return module


def _place(path: Path, exc: Exception) -> str:
    """``path:line`` for the line of ``path`` where ``exc`` arose, if it is known."""
    line = exc.lineno if isinstance(exc, SyntaxError) else None
    for frame in traceback.extract_tb(exc.__traceback__):
        if Path(frame.filename) == path:
            line = frame.lineno
    return f"{path}:{line}" if line else str(path)


def _describe(exc: BaseException) -> str:
    message = exc.msg if isinstance(exc, SyntaxError) else str(exc)
    return f"{type(exc).__name__}: {message}"


def _unique_name(plugin: object, taken: Mapping[str, object]) -> str:
    """``PLUGIN_NAME`` if the plugin sets one (so it is known by its entry point's name
    in tests too), else its module's or class's name; ``#2`` and on for repeats."""
    base = getattr(plugin, "PLUGIN_NAME", None)
    base = base if isinstance(base, str) else getattr(plugin, "__name__", None)
    base = base if isinstance(base, str) else type(plugin).__name__
    name, count = base, 1
    while name in taken:
        count += 1
        name = f"{base}#{count}"
    return name


def _call(impl: pluggy.HookImpl, kwargs: Mapping[str, Any]) -> object:
    return impl.function(*(kwargs[name] for name in impl.argnames))


def _refusal(impl: pluggy.HookImpl, message: str) -> str:
    return message or f"refused by plugin {impl.plugin_name!r}"


def _list_of(item_type: type[T], answer: object, plugin: str, hook: str) -> list[T]:
    if isinstance(answer, list | tuple) and all(isinstance(item, item_type) for item in answer):
        return list(answer)
    raise PluginLoadError(
        f"plugin {plugin!r}: {hook} must return a list of {item_type.__name__}, not {answer!r}"
    )


def _check_schema(schema: Mapping[str, Any], plugin: str, what: str) -> None:
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise PluginLoadError(
            f"plugin {plugin!r}: the schema of {what} is not a valid JSON Schema: {exc.message}"
        ) from None


def _suggest(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""
