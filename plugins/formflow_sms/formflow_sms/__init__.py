"""SMS blasts (短信群发) and e-mail blasts (邮件群发) for Formflow.

Recipients are the records a list filter picks on any form; the message is a Jinja2
sandbox template filled with each record's fields; numbers that are not valid mobile
numbers (phonenumbers) and records that opted out are skipped and counted. Sending goes
through the provider the settings choose: an outbox that only records (the default), a
generic HTTP gateway, or Alibaba Cloud SMS. E-mail blasts pick and preview recipients the
same way and go out through the instance's SMTP server (:mod:`formflow_sms.emails`). Both
are sent by the plugin's background job ``sms.send_blast``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import click
from flask import Blueprint

from formflow import hookimpl
from formflow.definitions.model import Label
from formflow.plugin_kit import Button, JobRun, PluginJob, PluginSetting, enqueue, settings_of
from formflow_sms.blasts import EMAIL, SEND_JOB, BlastError, Blasts, Summary
from formflow_sms.providers import (
    AliyunProvider,
    HttpGatewayProvider,
    OutboxProvider,
    Provider,
)

if TYPE_CHECKING:
    from formflow.actions import Action
    from formflow.definitions.model import Form
    from formflow.records.access import Actor

__version__ = "0.1.0"
PLUGIN_NAME = "sms"
"""Its entry point's name: settings are kept under it, in tests as when installed."""

__all__ = [
    "PLUGIN_NAME",
    "SEND_JOB",
    "BlastError",
    "Blasts",
    "Summary",
    "provider_from",
    "send_later",
    "send_waiting",
]


class SettingsError(BlastError):
    """The settings name a provider that is unknown or lacks what it needs."""


SETTINGS = [
    PluginSetting(
        "provider",
        Label(zh="短信通道", en="Provider"),
        default="outbox",
        help=Label(
            zh="outbox（只记录不发送）、http（通用网关）或 aliyun（阿里云短信）",
            en="outbox (records only), http (a generic gateway) or aliyun (Alibaba Cloud SMS)",
        ),
    ),
    PluginSetting("signature", Label(zh="短信签名", en="Signature"), default=""),
    PluginSetting(
        "phone_field", Label(zh="手机号字段", en="Mobile number field"), default="mobile"
    ),
    PluginSetting(
        "opt_out_field", Label(zh="退订标记字段", en="Opt-out field"), default="sms_opt_out"
    ),
    PluginSetting("email_field", Label(zh="邮箱字段", en="E-mail address field"), default="email"),
    PluginSetting(
        "email_opt_out_field",
        Label(zh="退订邮件标记字段", en="E-mail opt-out field"),
        default="email_opt_out",
    ),
    PluginSetting(
        "receipt_token",
        Label(zh="回执回调令牌", en="Receipt callback token"),
        secret=True,
        help=Label(
            zh="回执地址：/plugins/sms/receipts?token=<令牌>",
            en="Receipts go to /plugins/sms/receipts?token=<token>",
        ),
    ),
    PluginSetting(
        "roles",
        Label(zh="可群发的角色", en="Roles that may send blasts"),
        help=Label(
            zh="以逗号分隔；留空则能查看表单的人都可以",
            en="Comma-separated; empty: anyone who may read the form",
        ),
    ),
    PluginSetting(
        "timeout_seconds",
        Label(zh="等待短信接口应答的秒数", en="Seconds to wait for the provider"),
        default="10",
    ),
    PluginSetting("per_second", Label(zh="每秒发送条数", en="Messages a second"), default="10"),
    PluginSetting("http_url", Label(zh="网关地址", en="Gateway URL")),
    PluginSetting("http_username", Label(zh="网关用户名", en="Gateway user name")),
    PluginSetting("http_password", Label(zh="网关密码", en="Gateway password"), secret=True),
    PluginSetting(
        "http_body",
        Label(zh="请求体模板（JSON）", en="Request body template (JSON)"),
        default='{"to": "{phone}", "text": "{text}"}',
    ),
    PluginSetting(
        "http_success_path", Label(zh="成功标志路径", en="Success path"), default="status"
    ),
    PluginSetting("http_success_value", Label(zh="成功标志值", en="Success value"), default="ok"),
    PluginSetting("http_id_path", Label(zh="消息编号路径", en="Message id path"), default="id"),
    PluginSetting("http_error_path", Label(zh="错误原因路径", en="Error path"), default="error"),
    PluginSetting("aliyun_access_key_id", Label(zh="AccessKey ID", en="AccessKey ID")),
    PluginSetting(
        "aliyun_access_key_secret",
        Label(zh="AccessKey Secret", en="AccessKey Secret"),
        secret=True,
    ),
    PluginSetting("aliyun_template_code", Label(zh="模板编号", en="Template code")),
    PluginSetting(
        "aliyun_endpoint",
        Label(zh="接口地址", en="Endpoint"),
        default="https://dysmsapi.aliyuncs.com/",
    ),
]


def provider_from(values: Mapping[str, str]) -> Provider:
    """The provider the settings choose, built from them."""
    kind = (values.get("provider") or "outbox").strip()
    if kind == "outbox":
        return OutboxProvider()
    if kind == "http":
        if not values.get("http_url"):
            raise SettingsError("the http provider needs http_url")
        try:
            body = json.loads(values.get("http_body") or '{"to": "{phone}", "text": "{text}"}')
        except ValueError:
            raise SettingsError("http_body is not JSON") from None
        return HttpGatewayProvider(
            values["http_url"],
            username=values.get("http_username", ""),
            password=values.get("http_password", ""),
            body_template=body,
            success_path=values.get("http_success_path") or "status",
            success_value=values.get("http_success_value") or "ok",
            id_path=values.get("http_id_path") or "id",
            error_path=values.get("http_error_path") or "error",
            sender=values.get("signature", ""),
            timeout=float(values.get("timeout_seconds") or 10),
        )
    if kind == "aliyun":
        missing = [
            key
            for key in ("aliyun_access_key_id", "aliyun_access_key_secret", "aliyun_template_code")
            if not values.get(key)
        ]
        if missing or not values.get("signature"):
            raise SettingsError(f"the aliyun provider needs {', '.join(missing or ['signature'])}")
        return AliyunProvider(
            values["aliyun_access_key_id"],
            values["aliyun_access_key_secret"],
            values["signature"],
            values["aliyun_template_code"],
            endpoint=values.get("aliyun_endpoint") or "https://dysmsapi.aliyuncs.com/",
            timeout=float(values.get("timeout_seconds") or 10),
        )
    raise SettingsError(f"unknown SMS provider {kind!r}")


@hookimpl
def formflow_settings() -> list[PluginSetting]:
    return SETTINGS


def send_waiting(instance: Any) -> int:
    """Send every queued recipient of every blast not cancelled, through the provider the
    settings choose, at their rate; how many messages were sent."""
    values = settings_of(PLUGIN_NAME, instance)
    blasts = Blasts(instance.engine, opt_out_field=values.get("opt_out_field") or "sms_opt_out")
    provider = provider_from(values)
    per_second = float(values.get("per_second") or 10)
    return sum(
        blasts.send(blast_id, provider, per_second=per_second) for blast_id in blasts.waiting()
    )


SLICE_SECONDS = 30
"""How long one run of a blast's job sends before it lets other jobs take a turn."""


def send_blast(run: JobRun) -> None:
    """The job sending one blast: its recipients still queued, at the provider's rate, in
    slices of about :data:`SLICE_SECONDS` (each run asks to go again until none is left or
    the blast is cancelled), so a large blast does not hold a job thread for hours. Run
    again after a crash, it carries on where the last run stopped; a recipient caught
    mid-send is failed, never sent twice."""
    blast_id = int(run.payload["blast_id"])
    values = settings_of(PLUGIN_NAME, run.instance)
    blasts = Blasts(run.instance.engine)
    row = blasts.get(blast_id)
    if row is None:
        return  # deleted since
    blasts.release_interrupted(blast_id)
    per_second = float(values.get("per_second") or 10)
    slice_size = max(1, int(per_second * SLICE_SECONDS))
    sent = blasts.send(
        blast_id,
        _provider_of(row, values, run.instance),
        per_second=per_second,
        keep_alive=run.keep_alive,
        limit=slice_size,
    )
    if sent == slice_size:
        run.again()


def _provider_of(blast: Any, values: Mapping[str, str], instance: Any) -> Provider:
    """The SMS provider the settings choose, or the instance's SMTP server for an e-mail
    blast (:class:`SettingsError` when none is configured: the job retries, then fails)."""
    if blast.channel != EMAIL:
        return provider_from(values)
    from formflow.notifications.email import EmailChannel
    from formflow_sms.emails import EmailProvider
    from formflow_sms.unsubscribe import link_maker

    smtp = instance.settings.smtp
    if smtp is None:
        raise SettingsError("e-mail blasts need an SMTP server: set FORMFLOW_SMTP_HOST")
    links = link_maker(instance, int(blast.id), blast.link_base) if blast.link_base else None
    return EmailProvider(EmailChannel(smtp), blast.subject or "", links)


def send_later(blast_id: int, instance: Any = None) -> int:
    """Enqueue the job that sends ``blast_id`` (in the caller's unit of work, if open)."""
    return enqueue(SEND_JOB, {"blast_id": blast_id}, instance)


@hookimpl
def formflow_jobs() -> list[PluginJob]:
    return [PluginJob(SEND_JOB, send_blast, retries=8, retry_delay=10.0, lease_seconds=120)]


@click.group("sms")
def sms_command() -> None:
    """SMS blasts: send what is queued."""


@sms_command.command("send")
def send_command() -> None:
    """Send the recipients still queued, throttled to the provider's rate."""
    from formflow.cli import opened

    with opened() as instance:
        click.echo(f"sent {send_waiting(instance)} messages")


@sms_command.command("bounces")
def bounces_command() -> None:
    """List the e-mail addresses that bounced: blasts skip them."""
    from formflow.cli import opened

    with opened() as instance:
        for address, reason, bounced_at in Blasts(instance.engine).bounced_addresses():
            click.echo(f"{address}\t{bounced_at:%Y-%m-%d %H:%M}\t{reason or ''}")


@sms_command.command("unbounce")
@click.argument("address")
def unbounce_command(address: str) -> None:
    """Let blasts send to ADDRESS again (its mailbox works again)."""
    from formflow.cli import opened

    with opened() as instance:
        if not Blasts(instance.engine).forget_bounce(address):
            raise click.ClickException(f"{address} is not on the bounce list")
        click.echo(f"{address} removed from the bounce list")


@hookimpl
def formflow_actions() -> list[Action]:
    from formflow_sms.action import ACTION

    return [ACTION]


@hookimpl
def formflow_blueprints() -> list[Blueprint]:
    from formflow_sms.views import blueprint

    return [blueprint]


@hookimpl
def formflow_template_dirs() -> list[Path]:
    return [Path(__file__).resolve().parent / "templates"]


@hookimpl
def formflow_list_buttons(app_key: str, form: Form, actor: Actor) -> list[Button]:
    from flask import request, url_for
    from flask_babel import gettext as _

    from formflow.plugin_kit import current_instance
    from formflow_sms.pages import allowed

    values = settings_of(PLUGIN_NAME)
    if not allowed(actor, values):
        return []
    keys = {field.key for field in form.fields}
    shown = {key: value for key, value in request.args.items() if key != "cursor"}
    buttons = []
    if (values.get("phone_field") or "mobile") in keys:
        url = url_for("sms.new", app_key=app_key, form_key=form.key)
        buttons.append(Button(_("SMS blast"), f"{url}?{urlencode(shown)}" if shown else url))
    if (values.get("email_field") or "email") in keys and current_instance().settings.smtp:
        url = url_for("sms.new", app_key=app_key, form_key=form.key)
        query = urlencode({**shown, "channel": EMAIL})
        buttons.append(Button(_("E-mail blast"), f"{url}?{query}"))
    return buttons


@hookimpl
def formflow_commands() -> list[click.Command]:
    return [sms_command]


@hookimpl
def formflow_startup(instance: Any, app: Any) -> None:
    Blasts(instance.engine)
