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
    ) == ["dashboards/board.yaml:8:21: unknown option of 'stage' 'wonn'; did you mean 'won'?"]


def test_a_misspelt_field_in_a_fixed_filter(write_app: AppWriter) -> None:
    assert errors(
        write_app,
        "  - key: won\n    type: number\n    label: 赢单\n    form: deal\n    filter: {stag: won}\n",
    ) == ["dashboards/board.yaml:8:14: unknown field of form 'deal' 'stag'; did you mean 'stage'?"]


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
