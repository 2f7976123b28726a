"""The chat robots are notification channels: each notification is posted to every robot
whose webhook is set, signed as that robot requires, once, and tried again when it fails."""

from __future__ import annotations

import pytest

from chat_robots_support import Robots
from formflow.notifications.service import ChannelFailed
from formflow.records.unit import unit_of_work
from formflow.testing import Sandbox


def tell(box: Sandbox, kind: str = "task_assigned", title: str = "请审批报价单 Q-7") -> int:
    """A notification for ann, written and delivered as the instance does after a commit."""
    notifications = box.instance.notifications
    notifications.dispatch = lambda _notification_id: None
    user_id = box.actor("ann").user_id
    assert user_id is not None
    with unit_of_work(box.instance.engine) as unit:
        (written,) = notifications.add(unit.connection, [user_id], kind=kind, title=title)
    return written


def test_the_plugin_adds_a_channel_for_each_robot(box: Sandbox) -> None:
    keys = {channel.key for channel in box.plugins.notification_channels}
    assert {"wecom", "dingtalk", "feishu"} <= keys


def test_a_notification_reaches_each_robot_signed_and_naming_its_recipient(
    box: Sandbox, robots: Robots
) -> None:
    box.instance.plugin_settings.save("chat_robots", robots.settings())
    written = tell(box)
    statuses = box.instance.notifications.deliver(written)
    assert {statuses[key] for key in ("wecom", "dingtalk", "feishu")} == {"sent"}
    for robot in ("wecom", "dingtalk", "feishu"):
        (text,) = robots.texts(robot)
        assert "@ann" in text
        assert "请审批报价单 Q-7" in text


def test_a_robot_without_a_webhook_is_left_out(box: Sandbox, robots: Robots) -> None:
    settings = robots.settings()
    settings["wecom_webhook"] = ""
    box.instance.plugin_settings.save("chat_robots", settings)
    box.instance.notifications.deliver(tell(box))
    assert robots.texts("wecom") == []
    assert len(robots.texts("feishu")) == 1


def test_only_the_kinds_named_in_the_settings_are_posted(box: Sandbox, robots: Robots) -> None:
    box.instance.plugin_settings.save("chat_robots", {**robots.settings(), "kinds": "automation"})
    box.instance.notifications.deliver(tell(box, kind="task_assigned"))
    box.instance.notifications.deliver(tell(box, kind="automation", title="回款提醒"))
    assert robots.texts("dingtalk") == ["@ann 回款提醒"]


def test_a_robot_that_fails_is_tried_again_and_posts_once(box: Sandbox, robots: Robots) -> None:
    box.instance.plugin_settings.save("chat_robots", robots.settings())
    written = tell(box)
    robots.failures = 1  # the first robot tried (in key order: dingtalk) answers 503
    with pytest.raises(ChannelFailed, match="dingtalk"):
        box.instance.notifications.deliver(written)
    assert box.instance.notifications.deliver(written)["dingtalk"] == "sent"
    assert box.instance.notifications.deliver(written)["dingtalk"] == "sent"
    for robot in ("wecom", "dingtalk", "feishu"):
        assert len(robots.texts(robot)) == 1


def test_a_body_that_is_not_json_is_a_failure_to_try_again(box: Sandbox, robots: Robots) -> None:
    box.instance.plugin_settings.save("chat_robots", robots.settings())
    robots.malformed = 1
    with pytest.raises(ChannelFailed, match="not JSON"):
        box.instance.notifications.deliver(tell(box))


def test_a_wrong_signing_secret_is_refused_and_nothing_is_posted(
    box: Sandbox, robots: Robots
) -> None:
    box.instance.plugin_settings.save(
        "chat_robots", {**robots.settings(), "dingtalk_secret": "SECwrong", "feishu_secret": "x"}
    )
    with pytest.raises(ChannelFailed) as failed:
        box.instance.notifications.deliver(tell(box))
    assert "sign not match" in str(failed.value)
    assert "sign match fail" in str(failed.value)
    assert robots.texts("dingtalk") == []
    assert robots.texts("feishu") == []


def test_the_webhook_urls_and_secrets_are_kept_encrypted(box: Sandbox, robots: Robots) -> None:
    box.instance.plugin_settings.save("chat_robots", robots.settings())
    assert {"wecom_webhook", "dingtalk_secret", "feishu_secret"} <= (
        box.instance.plugin_settings.secrets_set("chat_robots")
    )


def test_a_robot_that_answers_too_slowly_is_tried_again_and_posts_once(
    box: Sandbox, robots: Robots
) -> None:
    box.instance.plugin_settings.save(
        "chat_robots", {**robots.settings(), "timeout_seconds": "0.2"}
    )
    written = tell(box)
    robots.slow = 1  # dingtalk, tried first, answers after the client gave up
    with pytest.raises(ChannelFailed, match="dingtalk robot unreachable"):
        box.instance.notifications.deliver(written)
    robots.released.set()
    assert box.instance.notifications.deliver(written)["dingtalk"] == "sent"
    assert len(robots.texts("dingtalk")) == 1
