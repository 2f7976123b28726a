"""Every kind of definition problem is reported at its exact file, line and column."""

from __future__ import annotations

from pathlib import Path

from formflow.definitions import load_app
from support import MINIMAL_APP_YAML, AppWriter, definition_errors


def form(fields: str, extra: str = "", *, title: str = "name", key: str = "item") -> str:
    """A form file whose ``fields:`` list starts on line 5; ``extra`` follows the fields."""
    permissions = "" if "permissions:" in extra else "permissions: {}\n"
    return (
        f"key: {key}\n"
        "label: {zh: 条目, en: Item}\n"
        f"title_field: {title}\n"
        "fields:\n"
        f"{fields}"
        f"{extra}"
        f"{permissions}"
    )


NAME = "  - {key: name, type: text, label: 名称}\n"


def test_an_unknown_key_points_at_the_key_and_suggests_the_right_one(write_app: AppWriter) -> None:
    root = write_app(
        forms={"item": form("  - key: name\n    type: text\n    label: 名称\n    requird: true\n")}
    )
    assert definition_errors(root) == [
        "forms/item.yaml:8:5: unknown key 'requird'; did you mean 'required'?"
    ]


def test_a_key_that_belongs_to_another_type_is_unknown_here(write_app: AppWriter) -> None:
    root = write_app(
        forms={"item": form(NAME + "  - {key: qty, type: number, label: 数量, options: []}\n")}
    )
    assert definition_errors(root) == [
        "forms/item.yaml:6:41: 'options' does not apply to a number field"
    ]


def test_a_missing_required_key(write_app: AppWriter) -> None:
    root = write_app(forms={"item": form(NAME + "  - {key: level, type: select, label: 级别}\n")})
    assert definition_errors(root) == ["forms/item.yaml:6:5: missing required key 'options'"]


def test_a_value_of_the_wrong_type(write_app: AppWriter) -> None:
    root = write_app(
        forms={"item": form("  - {key: name, type: text, label: 名称, required: 'yes'}\n")}
    )
    assert definition_errors(root) == [
        "forms/item.yaml:5:50: 'required' must be of type boolean, not string"
    ]


def test_a_bad_key_name(write_app: AppWriter) -> None:
    root = write_app(forms={"item": form(NAME + "  - {key: Bad-Key, type: text, label: x}\n")})
    assert definition_errors(root) == [
        "forms/item.yaml:6:11: 'key' must be a key: lower-case letters, digits and '_', "
        "starting with a letter (got 'Bad-Key')"
    ]


def test_a_label_in_an_unknown_language(write_app: AppWriter) -> None:
    root = write_app(forms={"item": form("  - {key: name, type: text, label: {fr: Nom}}\n")})
    assert definition_errors(root) == ["forms/item.yaml:5:37: unknown key 'fr'"]


def test_a_version_written_as_a_number(write_app: AppWriter) -> None:
    root = write_app(app=MINIMAL_APP_YAML.replace('version: "1.0"', "version: 1.0"))
    assert definition_errors(root) == [
        "app.yaml:2:10: 'version' must be of type string, not number"
    ]


def test_an_unknown_permission_scope(write_app: AppWriter) -> None:
    root = write_app(forms={"item": form(NAME, "permissions:\n  staff: {read: everyone}\n")})
    assert definition_errors(root) == [
        "forms/item.yaml:7:17: 'read' must be one of 'none', 'own', 'department', 'all' (got 'everyone')"
    ]


def test_default_and_default_expr_together(write_app: AppWriter) -> None:
    root = write_app(
        forms={
            "item": form(
                "  - {key: name, type: text, label: 名称, default: a, default_expr: \"'b'\"}\n"
            )
        }
    )
    assert definition_errors(root) == [
        "forms/item.yaml:5:66: 'default_expr': default and default_expr cannot be used together; keep one."
    ]


def test_duplicate_field_keys(write_app: AppWriter) -> None:
    root = write_app(forms={"item": form(NAME + NAME)})
    assert definition_errors(root) == [
        "forms/item.yaml:6:11: duplicate field key 'name' (first at field 1)"
    ]


def test_a_repeated_rule_key_is_reported_at_the_second_key(write_app: AppWriter) -> None:
    rule = '  - {key: named, expression: "name is not none", message: {zh: 必填, en: Needed}}\n'
    root = write_app(forms={"item": form(NAME, "rules:\n" + rule + rule)})
    assert definition_errors(root) == ["forms/item.yaml:8:11: duplicate rule key 'named'"]


def test_a_repeated_agenda_key_is_reported_at_the_second_key(write_app: AppWriter) -> None:
    fields = (
        NAME
        + "  - {key: due, type: date, label: 到期}\n"
        + "  - {key: owner, type: user, label: 负责人}\n"
    )
    item = "  - {key: due, label: 到期, date: due, user: owner}\n"
    root = write_app(forms={"item": form(fields, "agenda:\n" + item + item)})
    assert definition_errors(root) == ["forms/item.yaml:10:11: duplicate agenda key 'due'"]


def test_a_repeated_duplicate_check_key_is_reported_at_the_second_key(
    write_app: AppWriter,
) -> None:
    check = "  - {key: same, fields: [item.name], normalise: company_name, effect: warn}\n"
    root = write_app(
        app=MINIMAL_APP_YAML + "duplicate_checks:\n" + check + check,
        forms={"item": form(NAME)},
    )
    second = MINIMAL_APP_YAML.count("\n") + 3  # the header line, then the first check
    assert definition_errors(root) == [f"app.yaml:{second}:11: duplicate check 'same'"]


def test_a_field_named_like_a_system_field(write_app: AppWriter) -> None:
    root = write_app(
        forms={"item": form(NAME + "  - {key: created_at, type: date, label: 日期}\n")}
    )
    assert definition_errors(root) == [
        "forms/item.yaml:6:11: 'created_at' is a system field every form has; choose another key"
    ]


def test_a_link_to_a_missing_form(write_app: AppWriter) -> None:
    root = write_app(
        forms={"item": form(NAME + "  - {key: buyer, type: link, label: 客户, form: custmer}\n")}
    )
    assert definition_errors(root) == ["forms/item.yaml:6:47: unknown form 'custmer'"]


SET_NULL_HINT = (
    "deleting the linked record would empty it, and every later edit of the record would then "
    "fail; use on_delete: restrict or cascade, or make the link optional"
)


def test_set_null_onto_a_required_link(write_app: AppWriter) -> None:
    link = (
        "  - {key: up, type: link, label: 上级, form: item, required: true, on_delete: set_null}\n"
    )
    root = write_app(forms={"item": form(NAME + link)})
    assert definition_errors(root) == [
        f"forms/item.yaml:6:77: on_delete: set_null cannot apply to a required link: {SET_NULL_HINT}"
    ]


def test_set_null_onto_a_conditionally_required_link(write_app: AppWriter) -> None:
    link = (
        "  - {key: up, type: link, label: 上级, form: item, required_if: \"name == 'x'\",\n"
        "     on_delete: set_null}\n"
    )
    root = write_app(forms={"item": form(NAME + link)})
    assert definition_errors(root) == [
        f"forms/item.yaml:7:17: on_delete: set_null cannot apply to a required_if link: "
        f"{SET_NULL_HINT}"
    ]


def test_an_unknown_field_type_suggests_a_known_one(write_app: AppWriter) -> None:
    root = write_app(forms={"item": form(NAME + "  - {key: note, type: txt, label: 备注}\n")})
    assert definition_errors(root) == [
        "forms/item.yaml:6:23: unknown field type 'txt'; did you mean 'text'?"
    ]


def test_an_expression_that_names_an_unknown_field(write_app: AppWriter) -> None:
    fields = (
        NAME
        + "  - {key: amount, type: money, label: 金额}\n"
        + ('  - {key: tax, type: formula, label: 税, expression: "amout * 0.13"}\n')
    )
    root = write_app(forms={"item": form(fields)})
    assert definition_errors(root) == [
        "forms/item.yaml:7:53: expression uses unknown name 'amout'; did you mean 'amount'?"
    ]


def test_an_expression_that_does_not_parse(write_app: AppWriter) -> None:
    root = write_app(
        forms={"item": form('  - {key: name, type: text, label: 名称, visible_if: "name =="}\n')}
    )
    assert definition_errors(root) == [
        "forms/item.yaml:5:52: expression does not parse: unexpected 'end of expression'"
    ]


def test_a_formula_cycle(write_app: AppWriter) -> None:
    fields = (
        NAME
        + '  - {key: a, type: formula, label: A, expression: "b + 1"}\n'
        + '  - {key: b, type: formula, label: B, expression: "a + 1"}\n'
    )
    root = write_app(forms={"item": form(fields)})
    assert definition_errors(root) == ["forms/item.yaml:7:51: formula cycle: a -> b -> a"]


def test_a_title_field_that_is_not_a_field(write_app: AppWriter) -> None:
    root = write_app(forms={"item": form(NAME, title="nmae")})
    assert definition_errors(root) == [
        "forms/item.yaml:3:14: unknown field 'nmae'; did you mean 'name'?"
    ]


def test_a_select_default_that_is_not_an_option(write_app: AppWriter) -> None:
    fields = NAME + (
        "  - key: level\n    type: select\n    label: 级别\n    default: D\n"
        "    options: [{value: A, label: A}, {value: B, label: B}]\n"
    )
    root = write_app(forms={"item": form(fields)})
    assert definition_errors(root) == [
        "forms/item.yaml:9:14: default 'D' is not one of the options (A, B)"
    ]


def test_an_option_renamed_from_one_that_still_exists(write_app: AppWriter) -> None:
    fields = NAME + (
        "  - key: level\n    type: select\n    label: 级别\n"
        "    options: [{value: A, label: A}, {value: B, label: B, renamed_from: A}]\n"
    )
    root = write_app(forms={"item": form(fields)})
    assert definition_errors(root) == [
        "forms/item.yaml:9:72: renamed_from 'A' names an option that still exists"
    ]


def test_an_old_option_value_claimed_by_two_options(write_app: AppWriter) -> None:
    fields = NAME + (
        "  - key: level\n    type: select\n    label: 级别\n"
        "    options: [{value: A, label: A, renamed_from: Z}, {value: B, label: B, renamed_from: [Z]}]\n"
    )
    root = write_app(forms={"item": form(fields)})
    assert definition_errors(root) == [
        "forms/item.yaml:9:89: renamed_from 'Z' is claimed by two options"
    ]


def test_a_multiselect_cannot_be_unique(write_app: AppWriter) -> None:
    fields = NAME + (
        "  - {key: tags, type: multiselect, label: 标签, unique: true,\n"
        "     options: [{value: A, label: A}]}\n"
    )
    root = write_app(forms={"item": form(fields)})
    assert definition_errors(root) == [
        "forms/item.yaml:6:55: unique does not apply to a multiselect field: its values are "
        "lists, which a database index cannot hold"
    ]


def test_a_role_that_is_not_declared(write_app: AppWriter) -> None:
    root = write_app(forms={"item": form(NAME, "permissions:\n  stuff: {read: all}\n")})
    assert definition_errors(root) == [
        "forms/item.yaml:7:3: unknown role 'stuff'; did you mean 'staff'? (declare it in app.yaml roles)"
    ]


def test_an_owner_field_that_is_not_a_user_field(write_app: AppWriter) -> None:
    root = write_app(forms={"item": form(NAME, "owner_field: name\n")})
    assert definition_errors(root) == [
        "forms/item.yaml:6:14: owner_field 'name' must be a user field"
    ]


def test_a_list_column_that_is_not_a_field(write_app: AppWriter) -> None:
    root = write_app(forms={"item": form(NAME, "list:\n  columns: [name, stage]\n")})
    assert definition_errors(root) == ["forms/item.yaml:7:19: unknown field 'stage'"]


def test_an_index_on_an_unknown_field(write_app: AppWriter) -> None:
    root = write_app(forms={"item": form(NAME, "indexes:\n  - fields: [name, -nme]\n")})
    assert definition_errors(root) == [
        "forms/item.yaml:7:20: unknown field 'nme'; did you mean 'name'?"
    ]


def test_an_auto_number_pattern_without_a_counter(write_app: AppWriter) -> None:
    fields = NAME + '  - {key: no, type: auto_number, label: 编号, pattern: "HT-{YYYY}-{NN}"}\n'
    root = write_app(forms={"item": form(fields)})
    assert definition_errors(root) == [
        "forms/item.yaml:6:54: pattern needs exactly one counter such as {####}, found 0",
        "forms/item.yaml:6:54: unknown token '{NN}' in pattern; use {YYYY}, {YY}, {MM}, {DD} and one {####}",
    ]


def test_a_pattern_that_is_not_a_regular_expression(write_app: AppWriter) -> None:
    root = write_app(
        forms={"item": form('  - {key: name, type: text, label: 名称, pattern: "[a-"}\n')}
    )
    [error] = definition_errors(root)
    assert error.startswith("forms/item.yaml:5:49: pattern is not a valid regular expression:")


def test_min_above_max(write_app: AppWriter) -> None:
    root = write_app(
        forms={"item": form(NAME + "  - {key: qty, type: number, label: 数量, min: 5, max: 1}\n")}
    )
    assert definition_errors(root) == ["forms/item.yaml:6:46: min (5) is greater than max (1)"]


def test_the_same_form_key_in_two_files(write_app: AppWriter) -> None:
    root = write_app(forms={"a": form(NAME), "b": form(NAME)})
    assert definition_errors(root) == [
        f"forms/b.yaml:1:6: form 'item' is already defined in {root}/forms/a.yaml"
    ]


def test_an_include_that_matches_nothing(write_app: AppWriter) -> None:
    app = MINIMAL_APP_YAML.replace(
        "include:\n  forms: [forms/*.yaml]",
        "include:\n  forms: [forms/*.yaml]\n  dashboards: [boards/*.yaml]",
    )
    assert definition_errors(write_app(app=app)) == [
        "app.yaml:11:16: 'boards/*.yaml' matches no file"
    ]


def test_an_include_outside_the_app_folder(write_app: AppWriter) -> None:
    app = MINIMAL_APP_YAML.replace("forms: [forms/*.yaml]", "forms: [../secret.yaml]")
    assert definition_errors(write_app(app=app)) == [
        "app.yaml:10:11: '../secret.yaml' must be a path inside the app folder"
    ]


def test_a_workflow_with_an_unknown_state_and_role(write_app: AppWriter) -> None:
    app = MINIMAL_APP_YAML + "  workflows: [workflows/*.yaml]\n"
    fields = (
        NAME
        + "  - {key: status, type: select, label: 状态, options: [{value: draft, label: 草稿}]}\n"
    )
    workflow = (
        "key: approve\nlabel: 审批\nform: item\nstate_field: status\n"
        "nodes:\n"
        "  - {key: start, type: start, roles: [boss], from: [draft], next: done}\n"
        "  - {key: done, type: end, state: closed}\n"
    )
    root = write_app(app=app, forms={"item": form(fields)}, workflows={"approve": workflow})
    assert definition_errors(root) == [
        "workflows/approve.yaml:6:39: unknown role 'boss' (declare it in app.yaml roles)",
        "workflows/approve.yaml:7:35: state 'closed' is not an option of 'status' (draft)",
    ]


def test_a_dashboard_that_sums_a_text_field(write_app: AppWriter) -> None:
    app = MINIMAL_APP_YAML + "  dashboards: [dashboards/*.yaml]\n"
    board = (
        "key: board\nlabel: 看板\nwidgets:\n"
        "  - {key: total, type: number, label: 合计, form: item, measure: {op: sum, field: name}}\n"
    )
    root = write_app(app=app, dashboards={"board": board})
    assert definition_errors(root) == [
        "dashboards/board.yaml:4:81: sum needs a number field; 'name' is text"
    ]


def test_every_problem_in_every_file_is_reported_at_once_and_sorted(write_app: AppWriter) -> None:
    bad_b = form(NAME + NAME, key="other")
    bad_a = form(
        NAME + "  - {key: buyer, type: link, label: 客户, form: nowhere}\n", title="missing"
    )
    root = write_app(forms={"a": bad_a, "b": bad_b})
    errors = definition_errors(root)
    assert errors == [
        "forms/a.yaml:3:14: unknown field 'missing'",
        "forms/a.yaml:6:47: unknown form 'nowhere'",
        "forms/b.yaml:6:11: duplicate field key 'name' (first at field 1)",
    ]


def test_a_folder_without_app_yaml(tmp_path: Path) -> None:
    assert definition_errors(tmp_path) == [
        "app.yaml:1:1: no app.yaml here; an app folder starts with app.yaml"
    ]


def test_a_path_that_is_not_a_folder(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    errors = definition_errors(missing)
    assert errors == [f"{missing}:1:1: not a folder; give the folder that holds app.yaml"]


def test_python_tags_in_an_app_file(write_app: AppWriter) -> None:
    root = write_app(forms={"item": form(NAME, "icon: !!python/object/apply:os.system [ls]\n")})
    [error] = definition_errors(root)
    assert error.startswith(
        "forms/item.yaml:6:7: YAML tag 'tag:yaml.org,2002:python/object/apply:os.system'"
    )


def test_a_form_file_that_is_a_list(write_app: AppWriter) -> None:
    root = write_app(forms={"item": "- a\n- b\n"})
    assert definition_errors(root) == [
        "forms/item.yaml:1:1: a form file must be a mapping of keys to values"
    ]


def test_a_broken_file_does_not_hide_problems_in_others(write_app: AppWriter) -> None:
    root = write_app(forms={"a": "key: [\n", "b": form(NAME + NAME, key="other")})
    errors = definition_errors(root)
    assert len(errors) == 2
    assert errors[0].startswith("forms/a.yaml:2:1: invalid YAML")
    assert errors[1] == "forms/b.yaml:6:11: duplicate field key 'name' (first at field 1)"


def test_a_field_rule_names_an_unknown_field(write_app: AppWriter) -> None:
    extra = "permissions:\n  staff: {read: all, fields: {nmae: hidden}}\n"
    root = write_app(forms={"item": form(NAME, extra)})
    assert definition_errors(root) == [
        "forms/item.yaml:7:31: unknown field 'nmae'; did you mean 'name'?"
    ]


def test_the_title_field_cannot_be_hidden(write_app: AppWriter) -> None:
    extra = "permissions:\n  staff: {read: all, fields: {name: hidden}}\n"
    root = write_app(forms={"item": form(NAME, extra)})
    assert definition_errors(root) == [
        "forms/item.yaml:7:37: 'name' cannot be hidden from 'staff': it is the title_field"
    ]


COST = "  - {key: cost, type: money, label: 成本}\n"
MARGIN = '  - {key: margin, type: formula, label: 毛利, expression: "100 - (cost or 0)", result: money}\n'
COST_HIDDEN = "permissions:\n  staff: {read: all, fields: {cost: hidden}}\n"


def test_a_formula_may_not_show_a_field_hidden_from_a_role(write_app: AppWriter) -> None:
    root = write_app(forms={"item": form(NAME + COST + MARGIN, COST_HIDDEN)})
    assert definition_errors(root) == [
        "forms/item.yaml:7:11: 'margin' is computed from 'cost', which is hidden from 'staff';"
        " hide 'margin' from 'staff' too"
    ]


def test_a_formula_hidden_like_the_field_it_reads_is_accepted(write_app: AppWriter) -> None:
    hidden = "permissions:\n  staff: {read: all, fields: {cost: hidden, margin: hidden}}\n"
    root = write_app(forms={"item": form(NAME + COST + MARGIN, hidden)})
    assert load_app(root).form("item").permission("staff").field_rule("margin") == "hidden"


def test_a_lookup_may_not_show_another_form_s_field_hidden_from_a_role(
    write_app: AppWriter,
) -> None:
    order = form(
        NAME
        + "  - {key: item, type: link, label: 条目, form: item}\n"
        + "  - {key: item_cost, type: lookup, label: 成本, link: item, field: cost}\n",
        "permissions:\n  staff: {read: all}\n",
        key="order",
    )
    root = write_app(forms={"item": form(NAME + COST, COST_HIDDEN), "order": order})
    assert definition_errors(root) == [
        "forms/order.yaml:7:11: 'item_cost' is computed from 'item.cost', which is hidden from"
        " 'staff'; hide 'item_cost' from 'staff' too"
    ]


SHOWN_IF_COST = '  - {key: note, type: text, label: 说明, visible_if: "cost > 50"}\n'
REQUIRED_IF_MARGIN = '  - {key: reason, type: text, label: 理由, required_if: "margin < 10"}\n'
WRITES_COST_HIDDEN = "permissions:\n  staff: {create: all, read: all, fields: {cost: hidden}}\n"


def test_a_visible_field_may_not_show_only_when_a_hidden_field_says(
    write_app: AppWriter,
) -> None:
    root = write_app(forms={"item": form(NAME + COST + SHOWN_IF_COST, COST_HIDDEN)})
    assert definition_errors(root) == [
        "forms/item.yaml:7:52: 'visible_if' of 'note' reads 'cost', which is hidden from"
        " 'staff'; hide 'note' from 'staff' too"
    ]


def test_a_field_required_through_a_formula_of_a_hidden_field_is_refused(
    write_app: AppWriter,
) -> None:
    hidden = "permissions:\n  staff: {read: all, fields: {cost: hidden, margin: hidden}}\n"
    root = write_app(forms={"item": form(NAME + COST + MARGIN + REQUIRED_IF_MARGIN, hidden)})
    assert definition_errors(root) == [
        "forms/item.yaml:8:55: 'required_if' of 'reason' reads 'cost', which is hidden from"
        " 'staff'; hide 'reason' from 'staff' too"
    ]


def test_a_condition_on_a_field_hidden_like_its_source_is_accepted(
    write_app: AppWriter,
) -> None:
    hidden = "permissions:\n  staff: {read: all, fields: {cost: hidden, note: hidden}}\n"
    root = write_app(forms={"item": form(NAME + COST + SHOWN_IF_COST, hidden)})
    assert load_app(root).form("item").field("note").visible_if is not None


def test_a_rule_may_not_read_a_field_hidden_from_a_role_that_writes(
    write_app: AppWriter,
) -> None:
    rules = (
        "rules:\n"
        '  - {key: dear, expression: "(cost or 0) < 100", message: {zh: 太贵, en: Too dear}}\n'
    )
    root = write_app(forms={"item": form(NAME + COST, rules + WRITES_COST_HIDDEN)})
    assert definition_errors(root) == [
        "forms/item.yaml:8:29: rule 'dear' reads 'cost', which is hidden from 'staff', who may"
        " write these records: its message would tell them about it"
    ]


def test_a_rule_on_a_field_hidden_from_readers_only_is_accepted(write_app: AppWriter) -> None:
    rules = (
        "rules:\n"
        '  - {key: dear, expression: "(cost or 0) < 100", message: {zh: 太贵, en: Too dear}}\n'
    )
    root = write_app(forms={"item": form(NAME + COST, rules + COST_HIDDEN)})
    assert [rule.key for rule in load_app(root).form("item").rules] == ["dear"]


def test_readonly_if_may_not_read_a_field_hidden_from_a_role_that_writes(
    write_app: AppWriter,
) -> None:
    extra = 'readonly_if: "(cost or 0) > 100"\n' + WRITES_COST_HIDDEN
    root = write_app(forms={"item": form(NAME + COST, extra)})
    assert definition_errors(root) == [
        "forms/item.yaml:7:14: 'readonly_if' reads 'cost', which is hidden from 'staff', who may"
        " write these records: which ones they may not change would tell it"
    ]


def test_a_row_reading_an_unknown_or_formula_field_of_its_parent(write_app: AppWriter) -> None:
    fields = (
        NAME
        + '  - {key: total, type: formula, label: T, expression: "lines | length"}\n'
        + "  - key: lines\n    type: subtable\n    label: L\n    fields:\n"
        + '      - {key: a, type: text, label: A, visible_if: "parent.nmae"}\n'
        + '      - {key: b, type: text, label: B, required_if: "parent.total > 1"}\n'
        + '      - {key: c, type: text, label: C, default_expr: "parent.name ~ parent.id"}\n'
    )
    root = write_app(forms={"item": form(fields)})
    assert definition_errors(root) == [
        "forms/item.yaml:11:52: unknown field 'parent.nmae'; did you mean 'name'?",
        "forms/item.yaml:12:53: a row cannot read the formula 'parent.total': the record's"
        " formulas are worked out from its rows, after them",
    ]


BROKEN_NOTE = "key: note\nlabel: [unclosed\n"
"""A form file that does not parse: its own error is the only one its references give."""


def test_a_link_to_a_form_whose_file_does_not_parse_adds_no_unknown_form(
    write_app: AppWriter,
) -> None:
    root = write_app(
        forms={
            "item": form(NAME + "  - {key: note, type: link, label: 备注, form: note}\n"),
            "note": BROKEN_NOTE,
        }
    )
    assert [error.split(": ", 1)[0] for error in definition_errors(root)] == ["forms/note.yaml:3:1"]


def test_a_rollup_over_a_form_whose_file_does_not_parse_adds_no_unknown_form(
    write_app: AppWriter,
) -> None:
    rollup = (
        "  - {key: notes, type: rollup, label: 备注数, form: note, link: item, aggregate: count}\n"
    )
    root = write_app(forms={"item": form(NAME + rollup), "note": BROKEN_NOTE})
    assert [error.split(": ", 1)[0] for error in definition_errors(root)] == ["forms/note.yaml:3:1"]


def test_a_menu_naming_a_form_whose_file_does_not_parse_adds_no_unknown_form(
    write_app: AppWriter,
) -> None:
    app = MINIMAL_APP_YAML + "menu:\n  - forms: [note, item]\n"
    root = write_app(app=app, forms={"item": form(NAME), "note": BROKEN_NOTE})
    assert [error.split(": ", 1)[0] for error in definition_errors(root)] == ["forms/note.yaml:3:1"]


def test_a_link_to_a_form_nobody_declares_is_still_unknown_beside_a_broken_file(
    write_app: AppWriter,
) -> None:
    root = write_app(
        forms={
            "item": form(NAME + "  - {key: other, type: link, label: 其他, form: notes}\n"),
            "note": BROKEN_NOTE,
        }
    )
    assert "forms/item.yaml:6:47: unknown form 'notes'; did you mean 'note'?" in definition_errors(
        root
    )


def test_a_label_cut_by_an_unquoted_comma_says_to_quote_it(write_app: AppWriter) -> None:
    root = write_app(
        forms={"item": form("  - {key: name, type: text, label: {zh: 名称, en: Name, in full}}\n")}
    )
    assert definition_errors(root) == [
        "forms/item.yaml:5:55: unknown key 'in full': a comma inside {...} starts a new key; "
        'put text that holds a comma in quotes ("...")'
    ]


def test_a_label_cut_at_a_time_of_day_says_to_quote_it(write_app: AppWriter) -> None:
    """The example of docs/definitions.md: `8:00` is no key, so the comma cut the text."""
    root = write_app(
        forms={"item": form("  - {key: name, type: text, label: {zh: 周一, en: Mondays, 8:00}}\n")}
    )
    assert definition_errors(root) == [
        "forms/item.yaml:5:58: unknown key '8:00': a comma inside {...} starts a new key; "
        'put text that holds a comma in quotes ("...")'
    ]


def test_a_misspelt_field_type_is_the_only_problem_reported_of_its_field(
    write_app: AppWriter,
) -> None:
    """The list and the rules still name the field: they are not wrong, its type is."""
    root = write_app(
        forms={
            "item": form(
                NAME + "  - {key: mobile, type: phon, label: 手机}\n",
                "list: {columns: [name, mobile], search: [mobile]}\n",
            )
        }
    )
    assert definition_errors(root) == [
        "forms/item.yaml:6:25: unknown field type 'phon'; did you mean 'phone'?"
    ]
