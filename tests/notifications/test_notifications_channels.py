"""Plugins add notification channels through ``formflow_notification_channels``: each
notification goes out on them after the commit, once, and is retried when one fails."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
from notify_people import People
from sqlalchemy import Engine

from formflow import hookimpl
from formflow.definitions.model import Label
from formflow.notifications import Notification, Notifications, Recipient
from formflow.notifications.service import ChannelFailed
from formflow.plugins import PluginLoadError, load_plugins
from formflow.records.unit import unit_of_work

PLUGINS = Path(__file__).parents[1] / "plugins"


def chat_plugin() -> ModuleType:
    """A fresh copy of ``tests/plugins/chat_channel.py``, with an empty room."""
    spec = importlib.util.spec_from_file_location(
        "notify_chat_channel", PLUGINS / "chat_channel.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tell(engine: Engine, service: Notifications, user_id: int) -> int:
    with unit_of_work(engine) as unit:
        (written,) = service.add(unit.connection, [user_id], kind="note", title="Deal won")
    return written


def test_a_plugin_channel_is_sent_each_notification_after_the_commit(
    engine: Engine, people: People
) -> None:
    plugin = chat_plugin()
    plugins = load_plugins(entry_points=False, extra=[plugin])  # formflow_notification_channels
    assert [channel.key for channel in plugins.notification_channels] == ["chat"]
    service = Notifications(engine, plugins.notification_channels)
    tell(engine, service, people.ann)
    assert plugin.ROOM.posts == [("ann", "Deal won")]


def test_a_failing_plugin_channel_is_tried_again_and_posts_once(
    engine: Engine, people: People
) -> None:
    plugin = chat_plugin()
    plugin.ROOM.failures = 1
    service = Notifications(
        engine, load_plugins(entry_points=False, extra=[plugin]).notification_channels
    )
    written = tell(engine, service, people.ann)  # the first try failed, and was logged
    assert plugin.ROOM.posts == []
    assert service.deliver(written) == {"chat": "sent"}
    assert service.deliver(written) == {"chat": "sent"}
    assert plugin.ROOM.posts == [("ann", "Deal won")]


def test_a_channel_given_up_after_its_last_try_is_marked_failed(
    engine: Engine, people: People
) -> None:
    plugin = chat_plugin()
    plugin.ROOM.failures = 5
    channels = load_plugins(entry_points=False, extra=[plugin]).notification_channels
    service = Notifications(engine, channels, attempts=2)
    service.dispatch = lambda _notification_id: None
    written = tell(engine, service, people.ann)
    with pytest.raises(ChannelFailed):
        service.deliver(written)
    assert service.deliver(written) == {"chat": "failed"}


class Impostor:
    key = "email"
    label = Label(en="Not really e-mail")

    def send(self, notification: Notification, recipient: Recipient) -> bool:
        return True


class ImpostorPlugin:
    @hookimpl
    def formflow_notification_channels(self) -> list[Impostor]:
        return [Impostor()]


def test_a_plugin_cannot_take_the_built_in_e_mail_channels_key() -> None:
    with pytest.raises(PluginLoadError, match="built-in channel 'email'"):
        load_plugins(entry_points=False, extra=[ImpostorPlugin()])
