"""Plugins: how they are found and checked, what they add, and how their hooks are called."""

from __future__ import annotations

import datetime
import importlib.metadata
import importlib.util
import logging
import sys
import textwrap
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from formflow import Veto, hookimpl
from formflow.actions import Action, ActionContext
from formflow.definitions import load_app
from formflow.definitions.model import Form, Label
from formflow.errors import DefinitionErrors, PluginFailed, VetoedByPlugin
from formflow.fields import BUILTIN_FIELD_TYPES, FieldType, ValueKind
from formflow.plugins import (
    PluginInfo,
    PluginLoadError,
    Plugins,
    Source,
    describe_plugins,
    format_plugin_table,
    load_plugins,
)
from support import MINIMAL_APP_YAML, AppWriter

PLUGINS = Path(__file__).parent / "plugins"
ITEM = Form(key="item", label=Label(en="Item"), title_field="name", fields=(), permissions={})


def id_card_number(born: datetime.date) -> str:
    """A valid ID card number of someone born on ``born``, check digit included."""
    first17 = f"110105{born:%Y%m%d}001"
    total = sum(int(digit) * (2 ** (17 - i) % 11) for i, digit in enumerate(first17))
    return first17 + "10X98765432"[total % 11]


ADULT = id_card_number(datetime.date(1949, 12, 31))
CHILD = id_card_number(datetime.date(datetime.date.today().year - 5, 1, 1))


def import_plugin(name: str) -> ModuleType:
    """A module of ``tests/plugins``, imported by path."""
    spec = importlib.util.spec_from_file_location(f"test_plugins_{name}", PLUGINS / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_plugin(name: str, **hooks: Callable[..., Any]) -> ModuleType:
    """A plugin module called ``name`` implementing ``hooks``."""
    module = ModuleType(name)
    for hook_name, function in hooks.items():
        setattr(module, hook_name, hookimpl(function))
    return module


def load(*extra: object) -> Plugins:
    return load_plugins(entry_points=False, extra=extra)


@pytest.fixture(scope="module")
def cn_id_card() -> ModuleType:
    return import_plugin("cn_id_card")


PERSON_FORM = """\
key: person
label: {zh: 人员, en: Person}
title_field: name
fields:
  - {key: name, type: text, label: 姓名}
  - {key: id_no, type: cn_id_card, label: 身份证号, adults_only: true}
  - key: born
    type: formula
    label: 出生日期
    expression: "id_card_birth_date(id_no)"
    result: date
permissions:
  staff: {create: all, read: all}
"""


# Finding plugins


def test_without_plugins_only_the_built_in_plugin_is_loaded() -> None:
    plugins = load()
    [builtin] = plugins.describe()
    assert (builtin.name, builtin.source, builtin.hooks) == (
        "formflow.builtin",
        Source.BUILTIN,
        ("formflow_actions", "formflow_expression_functions", "formflow_field_types"),
    )
    assert list(plugins.field_types.values()) == list(BUILTIN_FIELD_TYPES)
    assert set(plugins.actions) == {"create_record", "update_records", "webhook", "notify"}


def test_entry_points_in_the_formflow_group_are_loaded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    entry_point = importlib.metadata.EntryPoint("cn_id_card", "cn_id_card", "formflow")

    def entry_points(*, group: str) -> list[importlib.metadata.EntryPoint]:
        return [entry_point] if group == "formflow" else []

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)
    monkeypatch.syspath_prepend(str(PLUGINS))
    monkeypatch.delitem(sys.modules, "cn_id_card", raising=False)
    plugins = load_plugins()
    info = next(info for info in plugins.describe() if info.name == "cn_id_card")
    assert info.source is Source.ENTRY_POINT
    assert "cn_id_card" in plugins.field_types
    assert "cn_id_card" not in load_plugins(entry_points=False).field_types


def test_an_entry_point_that_cannot_be_imported_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    entry_point = importlib.metadata.EntryPoint("broken", "no_such_module_here", "formflow")
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda group: [entry_point])
    with pytest.raises(PluginLoadError, match=r"entry point 'broken' = 'no_such_module_here'"):
        load_plugins()


def test_every_python_file_in_the_plugins_folder_is_a_plugin(tmp_path: Path) -> None:
    (tmp_path / "shout.py").write_text(
        textwrap.dedent(
            """\
            from formflow import hookimpl

            @hookimpl
            def formflow_expression_functions():
                return {"shout": str.upper}
            """
        ),
        encoding="utf-8",
    )
    (tmp_path / "notes.txt").write_text("not a plugin", encoding="utf-8")
    plugins = load_plugins(plugins_dir=tmp_path, entry_points=False)
    assert [(info.name, info.source) for info in plugins.describe()] == [
        ("formflow.builtin", Source.BUILTIN),
        ("shout.py", Source.PLUGINS_DIR),
    ]
    assert plugins.expression_engine.compile("shout(name)").evaluate({"name": "li"}) == "LI"


def test_a_plugin_file_with_a_syntax_error_is_named_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.py"
    path.write_text("from formflow import hookimpl\ndef formflow_actions(:\n", encoding="utf-8")
    with pytest.raises(PluginLoadError) as caught:
        load_plugins(plugins_dir=tmp_path, entry_points=False)
    message = str(caught.value)
    assert message.startswith(f"{path}:2: plugin file cannot be imported: SyntaxError: ")
    assert "Traceback" not in message
    assert "formflow_plugins_dir.broken" not in sys.modules


def test_a_plugin_file_that_raises_on_import_is_named_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "needs.py"
    path.write_text("import os\nimport no_such_module_here\n", encoding="utf-8")
    with pytest.raises(PluginLoadError) as caught:
        load_plugins(plugins_dir=tmp_path, entry_points=False)
    assert str(caught.value) == (
        f"{path}:2: plugin file cannot be imported: "
        "ModuleNotFoundError: No module named 'no_such_module_here'; fix or remove it"
    )


def test_a_missing_plugins_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(PluginLoadError, match="the plugins folder does not exist"):
        load_plugins(plugins_dir=tmp_path / "nowhere", entry_points=False)


def test_a_misspelt_hook_is_caught_at_start_up() -> None:
    typo = make_plugin("typo", formflow_field_type=lambda: [])
    with pytest.raises(PluginLoadError) as caught:
        load(typo)
    assert str(caught.value) == (
        "plugin 'typo' implements 'formflow_field_type', which is not a Formflow hook; "
        "did you mean 'formflow_field_types'?"
    )


def test_an_argument_the_hook_does_not_have_is_caught_at_start_up() -> None:
    wrong = make_plugin("wrong", formflow_before_create=lambda form, record: None)
    with pytest.raises(PluginLoadError, match=r"plugin 'wrong': .*\{'record'\}"):
        load(wrong)


def test_hook_wrappers_are_refused() -> None:
    class Wrapper:
        @hookimpl(wrapper=True)
        def formflow_actions(self) -> Any:
            return (yield)

    with pytest.raises(PluginLoadError, match="formflow_actions is a hook wrapper"):
        load(Wrapper())


def test_objects_without_a_name_are_named_after_their_class() -> None:
    class Auditor:
        @hookimpl
        def formflow_after_delete(self, record: Mapping[str, Any]) -> None:
            pass

    names = [info.name for info in load(Auditor(), Auditor()).describe()]
    assert names == ["formflow.builtin", "Auditor", "Auditor#2"]


# Field types


def test_a_plugin_field_type_joins_the_registry(cn_id_card: ModuleType) -> None:
    field_types = load(cn_id_card).field_types
    assert list(field_types)[-1] == "cn_id_card"
    assert field_types["cn_id_card"].kind is ValueKind.TEXT
    assert field_types["cn_id_card"].coerce is cn_id_card.check_id_card


def test_a_definition_using_a_plugin_field_type_compiles(
    write_app: AppWriter, cn_id_card: ModuleType
) -> None:
    plugins = load(cn_id_card)
    app_dir = write_app(MINIMAL_APP_YAML, forms={"person": PERSON_FORM})
    app = load_app(app_dir, toolkit=plugins.toolkit)
    id_no = app.form("person").field("id_no")
    assert (id_no.type, id_no.kind, id_no.settings["adults_only"]) == (
        "cn_id_card",
        ValueKind.TEXT,
        True,
    )
    born = app.form("person").field("born").expression
    assert born is not None
    assert born.evaluate({"id_no": ADULT}) == datetime.date(1949, 12, 31)


def test_a_plugin_field_type_s_own_keys_are_checked_against_its_schema(
    write_app: AppWriter, cn_id_card: ModuleType
) -> None:
    plugins = load(cn_id_card)
    app_dir = write_app(
        MINIMAL_APP_YAML,
        forms={"person": PERSON_FORM.replace("adults_only: true", "adults_only: maybe")},
    )
    with pytest.raises(
        DefinitionErrors, match="cn_id_card field: 'maybe' is not of type 'boolean'"
    ):
        load_app(app_dir, toolkit=plugins.toolkit)


def test_without_the_plugin_the_definition_is_refused(write_app: AppWriter) -> None:
    app_dir = write_app(MINIMAL_APP_YAML, forms={"person": PERSON_FORM})
    with pytest.raises(DefinitionErrors, match="unknown field type 'cn_id_card'"):
        load_app(app_dir)


def test_a_plugin_field_type_checks_values(cn_id_card: ModuleType) -> None:
    coerce = load(cn_id_card).field_types["cn_id_card"].coerce
    assert coerce is not None
    assert coerce(ADULT.lower()) == ADULT
    with pytest.raises(ValueError, match="不是有效的身份证号码"):
        coerce("110105194912310021")


def test_a_plugin_cannot_replace_a_built_in_field_type() -> None:
    text = make_plugin(
        "text_again", formflow_field_types=lambda: [FieldType("text", ValueKind.TEXT)]
    )
    with pytest.raises(PluginLoadError) as caught:
        load(text)
    assert str(caught.value) == (
        "plugin 'text_again' cannot replace the built-in field type 'text'; choose another name"
    )


def test_two_plugins_cannot_add_one_field_type_name() -> None:
    def types() -> list[FieldType]:
        return [FieldType("rating", ValueKind.INTEGER)]

    with pytest.raises(PluginLoadError, match="plugins 'a' and 'b' both provide the field type"):
        load(
            make_plugin("a", formflow_field_types=types),
            make_plugin("b", formflow_field_types=types),
        )


def test_one_plugin_cannot_add_a_field_type_twice() -> None:
    twice = make_plugin(
        "twice", formflow_field_types=lambda: [FieldType("rating", ValueKind.INTEGER)] * 2
    )
    with pytest.raises(
        PluginLoadError, match="plugin 'twice' provides the field type 'rating' twice"
    ):
        load(twice)


def test_a_field_type_options_schema_must_be_a_json_schema() -> None:
    bad = make_plugin(
        "bad",
        formflow_field_types=lambda: [
            FieldType("rating", ValueKind.INTEGER, options_schema={"type": "integr"})
        ],
    )
    with pytest.raises(PluginLoadError, match="plugin 'bad': the schema of field type 'rating'"):
        load(bad)


def test_a_hook_that_returns_the_wrong_thing_is_named() -> None:
    bad = make_plugin("bad", formflow_field_types=lambda: FieldType("rating", ValueKind.INTEGER))
    with pytest.raises(
        PluginLoadError, match="plugin 'bad': formflow_field_types must return a list"
    ):
        load(bad)


def test_a_hook_that_raises_while_loading_is_named() -> None:
    bad = make_plugin("bad", formflow_field_types=lambda: 1 / 0)
    with pytest.raises(PluginLoadError) as caught:
        load(bad)
    assert str(caught.value) == (
        "plugin 'bad' failed in formflow_field_types: ZeroDivisionError: division by zero"
    )


# Expression functions


def test_expression_functions_can_be_called(cn_id_card: ModuleType) -> None:
    engine = load(cn_id_card).expression_engine
    expression = engine.compile("id_card_birth_date(id_no).year")
    assert expression.names == {"id_no"}
    assert expression.evaluate({"id_no": ADULT}) == 1949


@pytest.mark.parametrize("name", ["today", "no spaces"])
def test_expression_function_names_must_be_free_identifiers(name: str) -> None:
    bad = make_plugin("bad", formflow_expression_functions=lambda: {name: len})
    with pytest.raises(PluginLoadError, match="plugin 'bad'"):
        load(bad)


def test_two_plugins_cannot_add_one_function_name() -> None:
    def functions() -> dict[str, Callable[..., Any]]:
        return {"double": lambda x: 2 * x}

    with pytest.raises(PluginLoadError, match="both provide the expression function 'double'"):
        load(
            make_plugin("a", formflow_expression_functions=functions),
            make_plugin("b", formflow_expression_functions=functions),
        )


# Actions


def greet(context: ActionContext, params: Mapping[str, Any]) -> str:
    return f"{params['greeting']}, {context.record['name']}"


GREET = Action(
    name="greet",
    label=Label(zh="问候", en="Greet"),
    params_schema={"type": "object", "properties": {"greeting": {"type": "string"}}},
    run=greet,
)


def test_formflow_actions_are_collected_by_name() -> None:
    actions = load(make_plugin("greeter", formflow_actions=lambda: [GREET])).actions
    assert actions["greet"] == GREET
    context = ActionContext("crm", "customer", {"name": "王芳"}, user_id=7)
    assert actions["greet"].run(context, {"greeting": "你好"}) == "你好, 王芳"


def test_duplicate_action_names_are_refused() -> None:
    with pytest.raises(PluginLoadError) as caught:
        load(
            make_plugin("a", formflow_actions=lambda: [GREET]),
            make_plugin("b", formflow_actions=lambda: [GREET]),
        )
    assert str(caught.value) == "plugins 'a' and 'b' both provide the action 'greet'; rename one"


def test_an_action_params_schema_must_be_a_json_schema() -> None:
    bad = Action("bad", Label(en="Bad"), {"type": 3}, greet)
    with pytest.raises(PluginLoadError, match="the schema of action 'bad'"):
        load(make_plugin("p", formflow_actions=lambda: [bad]))


# Record events: before hooks may refuse


CREATE = {"app_key": "demo", "form": ITEM, "values": {}, "user_id": 1}


def test_a_before_hook_vetoes_by_raising_veto() -> None:
    def refuse(values: Mapping[str, Any]) -> None:
        raise Veto("客户已停用")

    plugins = load(make_plugin("guard", formflow_before_create=refuse))
    with pytest.raises(VetoedByPlugin) as caught:
        plugins.run_before("formflow_before_create", **CREATE)
    assert (caught.value.plugin, str(caught.value), caught.value.code) == (
        "guard",
        "客户已停用",
        "vetoed",
    )


def test_a_before_hook_vetoes_by_returning_a_message(
    write_app: AppWriter, cn_id_card: ModuleType
) -> None:
    plugins = load(cn_id_card)
    app_dir = write_app(MINIMAL_APP_YAML, forms={"person": PERSON_FORM})
    form = load_app(app_dir, toolkit=plugins.toolkit).form("person")
    kwargs = {"app_key": "demo", "form": form, "user_id": 1}
    plugins.run_before("formflow_before_create", values={"id_no": ADULT}, **kwargs)
    with pytest.raises(VetoedByPlugin) as caught:
        plugins.run_before("formflow_before_create", values={"id_no": CHILD}, **kwargs)
    assert caught.value.plugin == "test_plugins_cn_id_card"
    assert str(caught.value) == "身份证号: 须年满 18 周岁 (must be 18 or over)"


def test_an_empty_refusal_still_refuses_with_the_plugin_named() -> None:
    plugins = load(make_plugin("quiet", formflow_before_delete=lambda record: ""))
    with pytest.raises(VetoedByPlugin, match="refused by plugin 'quiet'"):
        plugins.run_before(
            "formflow_before_delete", app_key="demo", form=ITEM, record={}, user_id=None
        )


def test_a_before_hook_that_raises_is_reported_with_its_name() -> None:
    plugins = load(make_plugin("flaky", formflow_before_update=lambda new: new["missing"]))
    with pytest.raises(PluginFailed) as caught:
        plugins.run_before(
            "formflow_before_update",
            app_key="demo",
            form=ITEM,
            record_id=3,
            old={},
            new={},
            user_id=1,
        )
    assert (caught.value.plugin, caught.value.hook) == ("flaky", "formflow_before_update")
    assert str(caught.value) == (
        "plugin 'flaky' failed in formflow_before_update: KeyError: 'missing'"
    )
    assert isinstance(caught.value.__cause__, KeyError)


def test_a_before_hook_must_return_none_or_a_message() -> None:
    plugins = load(make_plugin("yes", formflow_before_create=lambda: True))
    with pytest.raises(PluginFailed, match="returned True; return None, or a message to refuse"):
        plugins.run_before("formflow_before_create", **CREATE)


def test_before_hooks_run_latest_plugin_first_and_stop_at_the_first_refusal() -> None:
    calls: list[str] = []

    def allow(name: str) -> Callable[[], None]:
        return lambda: calls.append(name)

    plugins = load(
        make_plugin("first_registered", formflow_before_create=allow("first_registered")),
        make_plugin("refuses", formflow_before_create=lambda: "no"),
        make_plugin("last_registered", formflow_before_create=allow("last_registered")),
    )
    with pytest.raises(VetoedByPlugin, match="no"):
        plugins.run_before("formflow_before_create", **CREATE)
    assert calls == ["last_registered"]


def test_run_before_checks_the_hook_and_its_arguments() -> None:
    plugins = load()
    with pytest.raises(ValueError, match="'formflow_after_create' is not one of"):
        plugins.run_before("formflow_after_create", **CREATE)
    with pytest.raises(TypeError, match="formflow_before_create takes"):
        plugins.run_before("formflow_before_create", app_key="demo")


# Record events: after hooks never undo the write


def test_after_hooks_receive_what_they_ask_for() -> None:
    seen: list[Any] = []
    plugins = load(
        make_plugin(
            "watcher",
            formflow_after_create=lambda record, user_id: seen.append(("create", record, user_id)),
            formflow_after_update=lambda changes: seen.append(("update", changes)),
            formflow_after_delete=lambda app_key, record: seen.append(("delete", app_key)),
        )
    )
    assert (
        plugins.run_after(
            "formflow_after_create", app_key="demo", form=ITEM, record={"id": 1}, user_id=2
        )
        == []
    )
    plugins.run_after(
        "formflow_after_update",
        app_key="demo",
        form=ITEM,
        record={"id": 1},
        changes={"name": ("a", "b")},
        user_id=2,
    )
    plugins.run_after("formflow_after_delete", app_key="demo", form=ITEM, record={}, user_id=None)
    assert seen == [("create", {"id": 1}, 2), ("update", {"name": ("a", "b")}), ("delete", "demo")]


def test_run_after_never_raises_but_logs_and_returns_failures(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ran: list[str] = []

    def too_late() -> None:
        raise Veto("too late")

    plugins = load(
        make_plugin("steady", formflow_after_delete=lambda: ran.append("steady")),
        make_plugin("broken", formflow_after_delete=lambda: 1 / 0),
        make_plugin("stubborn", formflow_after_delete=too_late),
    )
    with caplog.at_level(logging.ERROR, logger="formflow.plugins"):
        failures = plugins.run_after(
            "formflow_after_delete", app_key="demo", form=ITEM, record={}, user_id=1
        )
    assert ran == ["steady"]
    assert [(f.plugin, f.hook) for f in failures] == [
        ("stubborn", "formflow_after_delete"),
        ("broken", "formflow_after_delete"),
    ]
    assert isinstance(failures[1].__cause__, ZeroDivisionError)
    assert [record.getMessage() for record in caplog.records] == [
        "plugin 'stubborn' failed in formflow_after_delete; the change stays committed",
        "plugin 'broken' failed in formflow_after_delete; the change stays committed",
    ]


# Describing plugins


def test_describe_lists_each_plugin_with_its_source_and_hooks(
    tmp_path: Path, cn_id_card: ModuleType
) -> None:
    (tmp_path / "audit.py").write_text(
        "from formflow import hookimpl\n\n"
        "@hookimpl\ndef formflow_after_update(record):\n    pass\n",
        encoding="utf-8",
    )
    plugins = load_plugins(plugins_dir=tmp_path, entry_points=False, extra=[cn_id_card])
    infos = describe_plugins(plugins)
    assert infos == plugins.describe()
    assert infos[1:] == [
        PluginInfo("audit.py", Source.PLUGINS_DIR, ("formflow_after_update",)),
        PluginInfo(
            "test_plugins_cn_id_card",
            Source.EXTRA,
            ("formflow_before_create", "formflow_expression_functions", "formflow_field_types"),
        ),
    ]


def test_the_plugin_table_is_plain_aligned_text() -> None:
    infos = [
        PluginInfo("formflow.builtin", Source.BUILTIN, ("formflow_field_types",), "0.1.0"),
        PluginInfo("audit.py", Source.PLUGINS_DIR, ("formflow_after_update", "formflow_actions")),
        PluginInfo("idle", Source.EXTRA, ()),
    ]
    assert format_plugin_table(infos) == textwrap.dedent(
        """\
        name              source       version  hooks
        formflow.builtin  builtin      0.1.0    formflow_field_types
        audit.py          plugins dir  -        formflow_after_update, formflow_actions
        idle              extra        -        -"""
    )


def test_enabling_a_plugin_that_is_not_installed_is_refused_naming_it() -> None:
    """FORMFLOW_PLUGINS=sms_gateway (a typo, a package not installed on this machine) must
    not start an instance quietly without the plugin the admin asked for."""
    with pytest.raises(
        PluginLoadError, match=r"^FORMFLOW_PLUGINS names 'no_such_plugin', which is not installed"
    ):
        load_plugins(enabled=("company_lookup", "no_such_plugin"))
