"""Notifications to WeCom, DingTalk and Feishu group robots (企业微信、钉钉、飞书群机器人).

Three notification channels, ``wecom``, ``dingtalk`` and ``feishu``: each posts every
notification (an approval task, an automation's ``notify``) to its group robot's webhook,
with the person it is for named on top. A channel whose webhook is not set in the plugin's
settings skips the notification; a robot that fails or refuses is tried again by
Formflow's notification jobs, with back-off.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from formflow import hookimpl
from formflow.definitions.model import Label
from formflow.notifications import Notification, Recipient
from formflow.plugin_kit import PluginSetting, settings_of
from formflow_chat_robots.robots import Message, RobotFailed, post

if TYPE_CHECKING:
    from formflow.lifecycle.instance import Instance

__version__ = "0.1.0"
PLUGIN_NAME = "chat_robots"
"""Its entry point's name: settings are kept under it, in tests as when installed."""

__all__ = ["PLUGIN_NAME", "RobotChannel", "RobotFailed"]

SETTINGS = [
    PluginSetting(
        "wecom_webhook",
        Label(zh="企业微信机器人 Webhook 地址", en="WeCom robot webhook URL"),
        secret=True,
        help=Label(
            zh="含 key，如 https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…",
            en="With its key: https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…",
        ),
    ),
    PluginSetting(
        "dingtalk_webhook",
        Label(zh="钉钉机器人 Webhook 地址", en="DingTalk robot webhook URL"),
        secret=True,
        help=Label(
            zh="含 access_token，如 https://oapi.dingtalk.com/robot/send?access_token=…",
            en="With its access_token: https://oapi.dingtalk.com/robot/send?access_token=…",
        ),
    ),
    PluginSetting(
        "dingtalk_secret",
        Label(zh="钉钉加签密钥", en="DingTalk signing secret"),
        secret=True,
        help=Label(zh="以 SEC 开头；留空则不加签", en="Starts with SEC; empty: unsigned"),
    ),
    PluginSetting(
        "feishu_webhook",
        Label(zh="飞书机器人 Webhook 地址", en="Feishu robot webhook URL"),
        secret=True,
        help=Label(
            zh="如 https://open.feishu.cn/open-apis/bot/v2/hook/…",
            en="Like https://open.feishu.cn/open-apis/bot/v2/hook/…",
        ),
    ),
    PluginSetting(
        "feishu_secret",
        Label(zh="飞书签名校验密钥", en="Feishu signing secret"),
        secret=True,
    ),
    PluginSetting(
        "timeout_seconds",
        Label(zh="等待机器人应答的秒数", en="Seconds to wait for a robot"),
        default="10",
    ),
    PluginSetting(
        "kinds",
        Label(zh="发送的通知类型", en="Notification kinds posted"),
        help=Label(
            zh="以逗号分隔，如 task_assigned, automation；留空则全部发送",
            en="Comma-separated, e.g. task_assigned, automation; empty: all",
        ),
    ),
]

_opened: dict[str, Instance] = {}
_lock = threading.Lock()


def _instance() -> Instance:
    """The instance whose settings the channels read: the one the web app serving this
    process was built for, or (in a ``formflow worker``) one opened from the environment."""
    with _lock:
        found = _opened.get("current")
        if found is None:
            from formflow.config import load_settings
            from formflow.lifecycle.instance import Instance

            found = _opened["current"] = Instance(load_settings())
        return found


class RobotChannel:
    """One group robot as a notification channel."""

    def __init__(self, key: str, label: Label) -> None:
        self.key = key
        self.label = label

    def send(self, notification: Notification, recipient: Recipient) -> bool:
        values = settings_of(PLUGIN_NAME, _instance())
        return self.send_with(values, notification, recipient)

    def send_with(
        self, values: Mapping[str, str], notification: Notification, recipient: Recipient
    ) -> bool:
        """Post with these settings; ``False`` (nothing to do) when this robot's webhook is
        not set or the notification's kind is not among those posted."""
        url = values.get(f"{self.key}_webhook", "").strip()
        kinds = {kind.strip() for kind in values.get("kinds", "").split(",") if kind.strip()}
        if not url or (kinds and notification.kind not in kinds):
            return False
        title, body = notification.text(language=recipient.language)
        who = recipient.display_name or recipient.username
        post(
            self.key,
            url,
            values.get(f"{self.key}_secret", "").strip(),
            Message(title=f"@{who} {title}", text=body),
            timeout=float(values.get("timeout_seconds") or 10),
        )
        return True


CHANNELS = [
    RobotChannel("wecom", Label(zh="企业微信群机器人", en="WeCom group robot")),
    RobotChannel("dingtalk", Label(zh="钉钉群机器人", en="DingTalk group robot")),
    RobotChannel("feishu", Label(zh="飞书群机器人", en="Feishu group robot")),
]


@hookimpl
def formflow_settings() -> list[PluginSetting]:
    return SETTINGS


@hookimpl
def formflow_notification_channels() -> list[RobotChannel]:
    return CHANNELS


@hookimpl
def formflow_startup(instance: Instance, app: Any) -> None:
    with _lock:
        _opened["current"] = instance
