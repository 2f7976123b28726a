"""A dashboard's widgets are checked against the forms: each problem at its line and column."""

from __future__ import annotations

from formflow.definitions import load_app
from support import MINIMAL_APP_YAML, AppWriter, definition_errors

APP = MINIMAL_APP_YAML + "  dashboards: [dashboards/*.yaml]\n"
FORM = (
    "key: deal\nlabel: 商机\ntitle_field: name\nfields:\n"
    "  - {key: name, type: text, label: 名称}\n"
    "  - {key: stage, type: select, label: 阶段, options: [{value: open, label: 进行}, {value: won, label: 赢单}]}\n"
    "  - {key: amount, type: money, label: 金额}\n"
    "  - {key: closed_on, type: date, label: 成交日}\n"
    "permissions: {}\n"
)


def board(*widget_lines: str) -> str:
    """A dashboard whose first widget starts on line 4."""
    return "key: board\nlabel: 看板\nwidgets:\n" + "".join(widget_lines)


def errors(write_app: AppWriter, *widget_lines: str) -> list[str]:
    root = write_app(app=APP, forms={"deal": FORM}, dashboards={"board": board(*widget_lines)})
    return definition_errors(root)


def test_a_misspelt_option_in_a_fixed_filter(write_app: AppWriter) -> None:
    assert errors(
        write_app,
        "  - key: won\n    type: number\n    label: 赢单\n    form: deal\n    filter: {stage: wonn}\n",
    ) == ["dashboards/board.yaml:8:21: unknown option 'wonn' of 'stage'; did you mean 'won'?"]


def test_a_misspelt_field_in_a_fixed_filter(write_app: AppWriter) -> None:
    assert errors(
        write_app,
        "  - key: won\n    type: number\n    label: 赢单\n    form: deal\n    filter: {stag: won}\n",
    ) == ["dashboards/board.yaml:8:14: unknown field 'stag' in form 'deal'; did you mean 'stage'?"]


def test_a_time_bucket_of_a_field_that_is_no_date(write_app: AppWriter) -> None:
    assert errors(
        write_app,
        "  - key: by\n    type: bar\n    label: 按月\n    form: deal\n",
        "    group_by: {field: name, bucket: month}\n",
    ) == ["dashboards/board.yaml:8:37: 'name' is not a date field, so it has no month"]


def test_a_chart_without_categories(write_app: AppWriter) -> None:
    assert errors(write_app, "  - {key: f, type: funnel, label: 漏斗, form: deal}\n") == [
        "dashboards/board.yaml:4:20: a funnel widget needs group_by"
    ]


def test_a_median_of_text(write_app: AppWriter) -> None:
    assert errors(
        write_app,
        "  - {key: m, type: number, label: 中位, form: deal, measure: {op: median, field: name}}\n",
    ) == ["dashboards/board.yaml:4:80: median needs a number field; 'name' is text"]


def test_a_well_formed_dashboard_compiles_to_its_widgets(write_app: AppWriter) -> None:
    root = write_app(
        app=APP,
        forms={"deal": FORM},
        dashboards={
            "board": board(
                "  - key: by_month\n    type: bar\n    label: 按月\n    form: deal\n",
                "    group_by: {field: closed_on, bucket: month}\n    series: stage\n",
                "    measure: {op: sum, field: amount}\n    filter: {stage: [open, won]}\n",
            )
        },
    )
    [widget] = load_app(root).dashboards["board"].widgets
    assert (widget.dimensions[0].bucket, widget.dimensions[1].field) == ("month", "stage")
    assert widget.filter == {"and": [{"field": "stage", "op": "in", "value": ["open", "won"]}]}


PIPELINE = (
    "key: deal\nlabel: 商机\ntitle_field: name\nfields:\n"
    "  - {key: name, type: text, label: 名称}\n"
    "  - {key: amount, type: money, label: 金额}\n"
    "  - {key: chance, type: percent, label: 赢率}\n"
    "  - {key: closes_on, type: date, label: 预计成交}\n"
    "  - {key: owner, type: user, label: 负责人}\n"
    "permissions: {}\n"
)
GOAL = (
    "key: goal\nlabel: 目标\ntitle_field: name\nfields:\n"
    "  - {key: name, type: text, label: 名称}\n"
    "  - {key: person, type: user, label: 人}\n"
    "  - {key: team, type: department, label: 团队}\n"
    "  - {key: revenue, type: money, label: 金额}\n"
    "permissions: {}\n"
)


def pipeline_errors(write_app: AppWriter, *widget_lines: str) -> list[str]:
    root = write_app(
        app=APP,
        forms={"deal": PIPELINE, "goal": GOAL},
        dashboards={"board": board(*widget_lines)},
    )
    return definition_errors(root)


def test_ages_must_grow_and_need_a_date(write_app: AppWriter) -> None:
    assert pipeline_errors(
        write_app,
        "  - key: ageing\n    type: bar\n    label: 账龄\n    form: deal\n",
        "    group_by: {field: name, age: [60, 30]}\n",
    ) == [
        "dashboards/board.yaml:8:34: 'name' is not a date field, so it has no age",
        "dashboards/board.yaml:8:34: age ranges must end at increasing numbers of days",
    ]


def test_a_forecast_needs_a_percentage_and_a_time_bucket(write_app: AppWriter) -> None:
    assert pipeline_errors(
        write_app,
        "  - key: f\n    type: forecast\n    label: 预测\n    form: deal\n",
        "    group_by: owner\n    measure: {op: sum, field: amount}\n    probability: name\n",
    ) == [
        "dashboards/board.yaml:8:15: a forecast groups by a date field's time bucket",
        "dashboards/board.yaml:10:18: 'name' is not a number field",
    ]


def test_a_rolled_up_target_needs_people_and_a_department_field(write_app: AppWriter) -> None:
    assert pipeline_errors(
        write_app,
        "  - key: t\n    type: target\n    label: 目标\n    form: deal\n    group_by: closes_on\n",
        "    measure: {op: sum, field: amount}\n",
        "    target: {form: goal, measure: {op: sum, field: revenue}, by: name, rollup: department,"
        " department: person}\n",
    ) == [
        "dashboards/board.yaml:8:15: a rolled-up target needs a user field here; "
        "'closes_on' is not one",
        "dashboards/board.yaml:10:66: rollup: department needs a user field here; 'name' is not one",
        "dashboards/board.yaml:10:104: 'person' is not a department field",
    ]


def test_a_forecast_an_age_and_a_rolled_up_target_compile(write_app: AppWriter) -> None:
    root = write_app(
        app=APP,
        forms={"deal": PIPELINE, "goal": GOAL},
        dashboards={
            "board": "key: board\nlabel: 看板\nfilters: [{kind: department}]\nwidgets:\n"
            "  - key: f\n    type: forecast\n    label: 预测\n    form: deal\n"
            "    group_by: {field: closes_on, bucket: month}\n"
            "    measure: {op: sum, field: amount}\n    probability: chance\n"
            "  - key: a\n    type: bar\n    label: 账龄\n    form: deal\n"
            "    group_by: {field: closes_on, age: true}\n"
            "  - key: t\n    type: target\n    label: 目标\n    form: deal\n    group_by: owner\n"
            "    target: {form: goal, measure: {op: sum, field: revenue}, by: person,"
            " rollup: department, department: team}\n"
        },
    )
    board_ = load_app(root).dashboards["board"]
    forecast, ageing, target = board_.widgets
    assert forecast.forecast is not None
    assert forecast.forecast.probability == "chance"
    assert ageing.dimensions[0].age == (30, 60, 90)
    assert target.target is not None
    assert (target.target.rollup, target.target.department) == ("department", "team")
    assert board_.filters[0].kind == "department"


def _derived(write_app: AppWriter, *widget_lines: str) -> list[tuple[str, ...]]:
    root = write_app(app=APP, forms={"deal": FORM}, dashboards={"board": board(*widget_lines)})
    return [index.fields for index in load_app(root).form("deal").indexes if not index.declared]


def test_a_widget_gets_an_index_that_narrows_by_its_filter_and_dates_and_holds_its_measure(
    write_app: AppWriter,
) -> None:
    assert _derived(
        write_app,
        "  - {key: w, type: number, label: 赢单, form: deal, filter: {stage: won},\n"
        "     date_field: closed_on, period: month, measure: {op: sum, field: amount}}\n",
    ) == [("stage", "closed_on", "amount", "created_by")]


def test_widgets_whose_narrowing_starts_alike_share_one_index(write_app: AppWriter) -> None:
    assert _derived(
        write_app,
        "  - {key: w, type: number, label: 赢单, form: deal, filter: {stage: won},\n"
        "     date_field: closed_on, measure: {op: sum, field: amount}}\n",
        "  - {key: f, type: funnel, label: 漏斗, form: deal, group_by: stage, measure: {op: count}}\n",
    ) == [("stage", "closed_on", "amount", "created_by")]


def test_a_chart_over_every_record_gets_an_index_in_the_order_of_its_groups(
    write_app: AppWriter,
) -> None:
    assert _derived(
        write_app,
        "  - {key: p, type: pie, label: 阶段, form: deal, group_by: stage,\n"
        "     measure: {op: sum, field: amount}}\n",
    ) == [("stage", "amount", "created_by")]


def test_a_table_widget_adds_no_index(write_app: AppWriter) -> None:
    assert _derived(write_app, "  - {key: t, type: table, label: 表, form: deal}\n") == []


def test_a_chart_over_all_time_gets_its_rows_in_the_order_of_its_groups(
    write_app: AppWriter,
) -> None:
    """A ranking without a period reads its filter's rows already grouped: no sort."""
    assert _derived(
        write_app,
        "  - {key: r, type: ranking, label: 排行, form: deal, filter: {stage: won},\n"
        "     group_by: name, date_field: closed_on, measure: {op: sum, field: amount}}\n",
    ) == [("stage", "name", "closed_on", "amount", "created_by")]


def test_a_stage_history_needs_a_select_field_and_its_outcomes(write_app: AppWriter) -> None:
    assert errors(
        write_app,
        "  - key: s\n    type: stage_history\n    label: 阶段\n    form: deal\n",
        "    group_by: amount\n",
        "  - key: t\n    type: stage_history\n    label: 阶段\n    form: deal\n",
        "    group_by: stage\n    outcomes: {won: [wonn], lost: [open]}\n",
    ) == [
        "dashboards/board.yaml:8:15: 'amount' is not a select field, so it has no stages",
        "dashboards/board.yaml:14:22: unknown option 'wonn' of 'stage'; did you mean 'won'?",
    ]


def test_a_stage_history_compiles_to_its_stages(write_app: AppWriter) -> None:
    root = write_app(
        app=APP,
        forms={"deal": FORM},
        dashboards={
            "board": board(
                "  - key: s\n    type: stage_history\n    label: 阶段\n    form: deal\n",
                "    group_by: stage\n    outcomes: {won: [won], lost: [open]}\n",
                "    probability: amount\n    date_field: closed_on\n",
            )
        },
    )
    [widget] = load_app(root).dashboards["board"].widgets
    assert widget.stages is not None
    assert (widget.stages.won, widget.stages.lost, widget.stages.closed) == (
        ("won",),
        ("open",),
        ("won", "open"),
    )
    assert widget.stages.probability == "amount"
