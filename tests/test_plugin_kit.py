"""The plugin kit: pages, templates, commands, settings, buttons, start-up and subscribers.

Each test loads a small plugin into a real instance (:class:`formflow.testing.Sandbox`)
and checks what a plugin author was promised in ``docs/plugins.md``.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from flask import Blueprint, Flask, jsonify, render_template, request
from sqlalchemy import select

from formflow import hookimpl
from formflow.cli import main
from formflow.config import load_settings
from formflow.definitions.model import Label
from formflow.events import Event
from formflow.lifecycle.instance import Instance
from formflow.plugin_kit import Button, PluginSetting, public, require, settings_of
from formflow.plugins import PluginInfo, PluginLoadError, Source, format_plugin_table, load_plugins
from formflow.storage.database import read_transaction
from formflow.storage.platform_tables import plugin_settings
from formflow.testing import Sandbox, csrf_token


@public
def ping() -> str:
    return "pong"


class Kit:
    """A plugin using every hook of the kit, recording what Formflow hands it."""

    def __init__(self, templates: Path) -> None:
        self.templates = templates
        self.started: list[tuple[Instance, Flask]] = []
        self.events: list[tuple[str, str]] = []
        self.blueprint = Blueprint("kit", __name__, url_prefix="/ignored")
        self.blueprint.add_url_rule("/hello", view_func=self.hello)
        self.blueprint.add_url_rule("/ping", view_func=ping)
        self.blueprint.add_url_rule("/echo", view_func=self.echo, methods=["POST"])
        self.blueprint.add_url_rule("/members", view_func=self.members)

    def hello(self) -> str:
        return render_template("kit/hello.html", name="kit")

    def echo(self) -> Any:
        return jsonify(said=request.form.get("say"))

    def members(self) -> str:
        require("sample", "member", "delete")
        return "may delete"

    @hookimpl
    def formflow_blueprints(self) -> list[Blueprint]:
        return [self.blueprint]

    @hookimpl
    def formflow_template_dirs(self) -> list[Path]:
        return [self.templates]

    @hookimpl
    def formflow_settings(self) -> list[PluginSetting]:
        return [
            PluginSetting("endpoint", Label(en="Endpoint"), default="https://example.invalid/"),
            PluginSetting("api_key", Label(en="API key"), secret=True),
        ]

    @hookimpl
    def formflow_record_buttons(self, form: Any, record: Mapping[str, Any]) -> list[Button]:
        return [Button(f"Look up {record['name']}", "/plugins/kit/hello")]

    @hookimpl
    def formflow_list_buttons(self, app_key: str) -> list[Button]:
        return [Button(f"Import into {app_key}", "/plugins/kit/hello", method="post")]

    @hookimpl
    def formflow_startup(self, instance: Instance, app: Flask) -> None:
        self.started.append((instance, app))

    @hookimpl
    def formflow_event_subscribers(self) -> dict[str, Any]:
        return {"kit_log": self.log}

    def log(self, event: Event, key: str) -> None:
        self.events.append((event.kind.value, event.record["name"]))


@pytest.fixture
def kit(tmp_path: Path) -> Kit:
    templates = tmp_path / "kit_templates"
    (templates / "kit").mkdir(parents=True)
    (templates / "kit" / "hello.html").write_text(
        '{% extends "base.html" %}{% block content %}<p>Hello from {{ name }}</p>{% endblock %}',
        encoding="utf-8",
    )
    (templates / "records").mkdir()
    (templates / "records" / "detail.html").write_text(
        '{% extends "formflow/records/detail.html" %}'
        "{% block content %}<p>Overridden by kit</p>{{ super() }}{% endblock %}",
        encoding="utf-8",
    )
    return Kit(templates)


@pytest.fixture
def box(tmp_path: Path, kit: Kit) -> Iterator[Sandbox]:
    with Sandbox(tmp_path, plugins=[kit]) as box:
        box.add_user("staff_user", roles=["staff"])
        box.add_user("admin_user", is_admin=True)
        yield box


# formflow_blueprints


def test_formflow_blueprints_are_mounted_under_the_plugin_prefix(box: Sandbox) -> None:
    page = box.client("staff_user").get("/plugins/kit/hello")
    assert page.status_code == 200
    assert "Hello from kit" in page.text


def test_plugin_pages_need_sign_in_unless_marked_public(box: Sandbox) -> None:
    anonymous = box.client()
    assert anonymous.get("/plugins/kit/hello").status_code == 302
    assert anonymous.get("/plugins/kit/ping").text == "pong"


def test_plugin_forms_need_the_csrf_token(box: Sandbox) -> None:
    client = box.client("staff_user")
    assert client.post("/plugins/kit/echo", data={"say": "hi"}).status_code == 400
    token = csrf_token(client, "/plugins/kit/hello")
    answer = client.post("/plugins/kit/echo", data={"say": "hi", "csrf_token": token})
    assert answer.json == {"said": "hi"}


def test_plugin_views_check_permissions_as_the_app_does(box: Sandbox) -> None:
    box.add_user("manager_user", roles=["manager"])
    assert box.client("staff_user").get("/plugins/kit/members").status_code == 403
    assert box.client("manager_user").get("/plugins/kit/members").text == "may delete"


def test_two_plugins_cannot_give_one_blueprint_name(kit: Kit) -> None:
    twin = Kit(kit.templates)
    with pytest.raises(PluginLoadError, match="both provide the blueprint 'kit'"):
        load_plugins(entry_points=False, extra=[kit, twin])


# formflow_template_dirs


def test_formflow_template_dirs_override_and_extend_formflow_templates(box: Sandbox) -> None:
    staff = box.actor("staff_user")
    record = box.records.create(staff, "member", {"name": "Acme"})
    page = box.client("staff_user").get(f"/sample/member/{record['id']}")
    assert "Overridden by kit" in page.text
    assert "Acme" in page.text  # the original page, extended


def test_a_template_folder_that_does_not_exist_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PluginLoadError, match=r"template folder .* does not exist"):
        load_plugins(entry_points=False, extra=[Kit(tmp_path / "missing")])


# formflow_record_buttons and formflow_list_buttons


def test_formflow_record_buttons_show_on_the_record_page(box: Sandbox) -> None:
    record = box.records.create(box.actor("staff_user"), "member", {"name": "Acme"})
    page = box.client("staff_user").get(f"/sample/member/{record['id']}")
    assert 'href="/plugins/kit/hello">Look up Acme</a>' in page.text


def test_formflow_list_buttons_show_above_the_list(box: Sandbox) -> None:
    page = box.client("staff_user").get("/sample/member/")
    assert 'action="/plugins/kit/hello"' in page.text
    assert "Import into sample" in page.text


# formflow_startup


def test_formflow_startup_runs_once_the_web_app_is_built(box: Sandbox, kit: Kit) -> None:
    app = box.flask_app
    assert kit.started == [(box.instance, app)]


def test_a_failing_start_up_names_the_plugin(tmp_path: Path) -> None:
    class Broken:
        @hookimpl
        def formflow_startup(self) -> None:
            raise RuntimeError("no licence")

    with (
        Sandbox(tmp_path, plugins=[Broken()]) as box,
        pytest.raises(PluginLoadError, match="plugin 'Broken' failed in formflow_startup"),
    ):
        box.flask_app  # noqa: B018


# formflow_event_subscribers


def test_formflow_event_subscribers_receive_committed_changes(box: Sandbox, kit: Kit) -> None:
    staff = box.actor("staff_user")
    record = box.records.create(staff, "member", {"name": "Acme"})
    box.records.update(staff, "member", record["id"], {"city": "上海"}, expected_version=1)
    box.deliver_events()
    assert kit.events == [("created", "Acme"), ("updated", "Acme")]


# formflow_settings


def test_formflow_settings_read_defaults_until_set(box: Sandbox) -> None:
    assert settings_of("Kit", box.instance) == {
        "endpoint": "https://example.invalid/",
        "api_key": "",
    }


def test_secret_settings_are_encrypted_at_rest(box: Sandbox) -> None:
    box.instance.plugin_settings.save("Kit", {"api_key": "s3cret-key"})
    assert settings_of("Kit", box.instance)["api_key"] == "s3cret-key"
    with read_transaction(box.instance.engine) as connection:
        stored = connection.execute(select(plugin_settings.c.value)).scalar_one()
    assert "s3cret-key" not in stored


def test_the_settings_page_saves_and_never_shows_a_secret(box: Sandbox) -> None:
    client = box.client("admin_user")
    path = "/admin/plugins/Kit/settings"
    token = csrf_token(client, path)
    form = {"endpoint": "https://registry.example/", "api_key": "s3cret-key", "csrf_token": token}
    page = client.post(path, data=form)
    assert "设置已保存。" in page.text
    assert "s3cret-key" not in page.text
    client.post(path, data={**form, "api_key": ""})  # left empty: kept
    assert settings_of("Kit", box.instance) == {
        "endpoint": "https://registry.example/",
        "api_key": "s3cret-key",
    }


def test_only_administrators_reach_plugin_settings(box: Sandbox) -> None:
    assert box.client("staff_user").get("/admin/plugins/Kit/settings").status_code == 403
    listing = box.client("admin_user").get("/admin/plugins/")
    assert "/admin/plugins/Kit/settings" in listing.text


# formflow_commands


def test_formflow_commands_join_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "greeter.py").write_text(
        textwrap.dedent(
            """\
            import click
            from formflow import hookimpl

            @click.command()
            @click.argument("name")
            def greet(name):
                click.echo(f"hello {name}")

            @hookimpl
            def formflow_commands():
                return [greet]
            """
        ),
        encoding="utf-8",
    )
    monkeypatch.setenv("FORMFLOW_PLUGINS_DIR", str(folder))
    monkeypatch.setenv("FORMFLOW_INSTANCE", str(tmp_path / "instance"))
    runner = CliRunner()
    assert "greet" in runner.invoke(main, ["--help"]).output
    assert runner.invoke(main, ["greet", "Li"]).output == "hello Li\n"


def test_a_plugin_command_needs_a_name_of_its_own() -> None:
    def commands() -> list[click.Command]:
        return [click.Command("sync")]

    class A:
        formflow_commands = hookimpl(staticmethod(commands))

    class B:
        formflow_commands = hookimpl(staticmethod(commands))

    with pytest.raises(PluginLoadError, match="both provide the command 'sync'"):
        load_plugins(entry_points=False, extra=[A(), B()])


# Enabled per instance


def test_installed_plugins_an_instance_does_not_enable_are_listed_as_disabled() -> None:
    infos = [
        PluginInfo("formflow.builtin", Source.BUILTIN, ("formflow_field_types",), "0.1.0"),
        PluginInfo("sms", Source.ENTRY_POINT, (), "1.2.0", enabled=False),
    ]
    assert format_plugin_table(infos).splitlines()[-1] == (
        "sms               entry point  1.2.0    (disabled in this instance)"
    )


def test_formflow_plugins_names_the_enabled_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORMFLOW_PLUGINS", "company_lookup, sms")
    assert load_settings().enabled_plugins == ("company_lookup", "sms")
    monkeypatch.delenv("FORMFLOW_PLUGINS")
    assert load_settings().enabled_plugins == ()
