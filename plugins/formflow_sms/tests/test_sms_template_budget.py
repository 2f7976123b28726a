"""A blast's template renders in the engine's budgeted sandbox: anyone who may read a form
may write one, so each kind of template bomb is refused as a template that does not render,
quickly and with the budget's reason, while ordinary messages still render."""

from __future__ import annotations

import pytest

from formflow.testing import Sandbox
from formflow_sms import BlastError, Blasts
from formflow_sms.blasts import blasts as blast_rows
from formflow_sms.blasts import render

BOMBS = {
    "string multiply": ("{{ 'x' * 300000000 }}", "value of more than 100,000 characters"),
    "nested ranges": (
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
        "loops run more than 50,000 times",
    ),
    "range with a huge count": ("{% for i in range(10**18) %}{% endfor %}", "100,000"),
    "range with a huge step count": ("{% for i in range(0, 10**40, 7) %}{% endfor %}", "100,000"),
    "join over a range": ("{{ range(10**9) | join }}", "100,000"),
    "output written many times over": (
        "{% for i in range(50000) %}{{ name }}{% endfor %}",
        "value of more than 100,000 characters",
    ),
    "a macro calling itself": (
        "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}",
        "calls itself more than 50 levels deep",
    ),
    "deep nesting": ("{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}", "nests too deeply"),
}


@pytest.mark.parametrize("source", [source for source, _ in BOMBS.values()], ids=list(BOMBS))
def test_each_kind_of_template_bomb_is_refused_as_a_template_that_does_not_render(
    source: str,
) -> None:
    reason = next(reason for bomb, reason in BOMBS.values() if bomb == source)
    with pytest.raises(BlastError, match=f"does not render: .*({reason})"):
        render(source, {"name": "华东贸易"})


def test_an_ordinary_message_with_a_loop_still_renders() -> None:
    source = "{{ name }}您好{% for i in range(3) %}！{% endfor %}"
    assert render(source, {"name": "华东贸易"}) == "华东贸易您好！！！"


def test_a_field_the_record_lacks_is_still_refused() -> None:
    with pytest.raises(BlastError, match="'nmae' is undefined"):
        render("{{ nmae }}您好", {"name": "华东贸易"})


def test_a_blast_whose_template_loops_too_long_is_not_written(box: Sandbox) -> None:
    blasts = Blasts(box.instance.engine)
    with pytest.raises(BlastError, match="loops run more than 50,000 times"):
        blasts.create(
            box.records,
            box.actor("sam"),
            box.app_key,
            "customer",
            {"field": "city", "op": "eq", "value": "上海"},
            phone_field="mobile",
            template="{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}",
            signature="华东",
        )
    with box.instance.engine.connect() as connection:
        assert connection.execute(blast_rows.select()).first() is None
