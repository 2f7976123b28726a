"""The dashboard grid: Save writes the widgets' order and widths as one step, nothing else.

The arrangement is checked whole before anything is written; the comments above a widget
move with it; every other line stays byte for byte; an untouched Save writes nothing.
"""

from __future__ import annotations

import pytest

from formflow.designer import Designer
from formflow.designer.arrangement import (
    ArrangementRefused,
    ArrangeWidgets,
    Placement,
    arrangement_of,
)
from formflow.designer.documents import Document
from formflow.designer.drafts import DraftConflict

HEAD = """\
# The team's board.
key: board
label: {zh: 看板, en: Board}
widgets:
"""
COUNT = """\
  # How many there are.
  - key: count
    type: number
    label: {zh: 条目数, en: Items}
    form: item
    measure: {op: count}
"""
TOTAL = """\
  # What they add up to, widest.
  - key: total
    type: number
    label: {zh: 数量合计, en: Quantity}
    form: item
    measure: {op: sum, field: qty}   # the quantity field
    width: 2
"""
BY_NAME = """\
  - key: by_name
    type: bar
    label: {zh: 按名称, en: By name}
    form: item
    group_by: name
    measure: {op: count}
    width: 4
"""
TAIL = """\
  # kept after the last widget
roles: [staff]
"""
BOARD = HEAD + COUNT + TOTAL + BY_NAME + TAIL
INSTALLED_DASHBOARDS = {"board": BOARD}
APP = "demo"
PATH = "dashboards/board.yaml"


def arranged(text: str, *placements: Placement) -> str:
    document = Document(PATH, text)
    ArrangeWidgets(placements).apply(document)
    return document.text()


def test_the_saved_arrangement_reads_the_order_and_widths() -> None:
    assert arrangement_of(Document(PATH, BOARD)) == (
        Placement("count", 1),
        Placement("total", 2),
        Placement("by_name", 4),
    )


def test_moving_a_widget_takes_the_comment_above_it_along() -> None:
    text = arranged(BOARD, Placement("total", 2), Placement("count", 1), Placement("by_name", 4))
    assert text == HEAD + TOTAL + COUNT + BY_NAME + TAIL


def test_moving_the_last_widget_leaves_the_comment_after_the_list_at_its_end() -> None:
    text = arranged(BOARD, Placement("by_name", 4), Placement("count", 1), Placement("total", 2))
    assert text.index("key: by_name") < text.index("key: count")
    assert text.endswith("    width: 2\n  # kept after the last widget\nroles: [staff]\n")


def test_resizing_changes_only_the_width_lines() -> None:
    text = arranged(BOARD, Placement("count", 3), Placement("total", 1), Placement("by_name", 4))
    assert text == BOARD.replace(
        "    measure: {op: count}\n  # What",
        "    measure: {op: count}\n    width: 3\n  # What",
    ).replace(
        "field: qty}   # the quantity field\n    width: 2\n",
        "field: qty}   # the quantity field\n    width: 1\n",
    )


def test_an_arrangement_moved_and_moved_back_is_the_original_text() -> None:
    moved = arranged(BOARD, Placement("by_name", 4), Placement("total", 2), Placement("count", 1))
    back = arranged(moved, Placement("count", 1), Placement("total", 2), Placement("by_name", 4))
    assert back == BOARD


def test_an_unchanged_arrangement_changes_nothing() -> None:
    document = Document(PATH, BOARD)
    ArrangeWidgets(arrangement_of(document)).apply(document)
    assert not document.changed
    assert document.text() == BOARD


def test_a_removed_widget_goes_with_the_comment_above_it() -> None:
    text = arranged(
        BOARD, Placement("count", 1, removed=True), Placement("total", 2), Placement("by_name", 4)
    )
    assert "key: count" not in text
    assert "How many there are" not in text
    assert "  # What they add up to, widest.\n  - key: total\n" in text


def test_every_problem_of_an_arrangement_is_named_at_once() -> None:
    with pytest.raises(ArrangementRefused) as refused:
        arranged(
            BOARD,
            Placement("count", 0),
            Placement("count", 1),
            Placement("nope", 2),
            Placement("total", 5),
        )
    assert refused.value.problems == (
        "widget 'count' is listed 2 times",
        "there is no widget 'nope'",
        "widget 'by_name' is missing from the arrangement",
        "widget 'count' cannot span 0 columns: a width is 1 to 4",
        "widget 'total' cannot span 5 columns: a width is 1 to 4",
    )


def test_a_dashboard_keeps_at_least_one_widget() -> None:
    with pytest.raises(ArrangementRefused, match="at least one widget"):
        arranged(
            BOARD,
            Placement("count", 1, removed=True),
            Placement("total", 2, removed=True),
            Placement("by_name", 4, removed=True),
        )


def stored(designer: Designer) -> tuple[str, int]:
    saved = designer.draft(APP).files[PATH]
    return saved.text, saved.revision


def test_saving_an_arrangement_is_one_step_that_undo_takes_back(designer: Designer) -> None:
    before, revision = stored(designer)
    order = (Placement("by_name", 2), Placement("count", 1), Placement("total", 2))
    designer.arrange_widgets(APP, PATH, order, revision, user_id=None)
    assert arrangement_of(Document(PATH, stored(designer)[0])) == order
    designer.undo(APP, user_id=None)
    assert stored(designer)[0] == before
    designer.redo(APP, user_id=None)
    assert arrangement_of(Document(PATH, stored(designer)[0])) == order


def test_an_untouched_save_writes_nothing(designer: Designer) -> None:
    before = stored(designer)
    saved = designer.arrange_widgets(
        APP, PATH, arrangement_of(Document(PATH, before[0])), before[1], user_id=None
    )
    assert saved is None
    assert stored(designer) == before
    assert designer.can_undo(APP) == (False, False)


def test_a_refused_arrangement_writes_nothing(designer: Designer) -> None:
    before = stored(designer)
    with pytest.raises(ArrangementRefused):
        designer.arrange_widgets(APP, PATH, [Placement("count", 9)], before[1], user_id=None)
    assert stored(designer) == before


def test_an_arrangement_from_a_stale_page_is_a_conflict(designer: Designer) -> None:
    text, revision = stored(designer)
    designer.save(APP, PATH, text.replace("看板", "团队看板"), revision, user_id=None)
    order = (Placement("total", 2), Placement("count", 1), Placement("by_name", 4))
    with pytest.raises(DraftConflict):
        designer.arrange_widgets(APP, PATH, order, revision, user_id=None)


def test_widgets_written_in_flow_style_keep_their_comments() -> None:
    text = (
        "key: board\nlabel: 看板\nwidgets:\n"
        "  - {key: count, type: number, form: item}  # one line\n"
        "  # the total\n"
        "  - {key: total, type: number, form: item, width: 2}\n"
    )
    assert arranged(text, Placement("total", 2), Placement("count", 1)) == (
        "key: board\nlabel: 看板\nwidgets:\n"
        "  # the total\n"
        "  - {key: total, type: number, form: item, width: 2}\n"
        "  - {key: count, type: number, form: item}  # one line\n"
    )
