"""User expressions: Jinja2 syntax, sandboxed, with the names they read known up front."""

from __future__ import annotations

import pytest

from formflow.expressions import ExpressionEngine, ExpressionError, ExpressionLimit

engine = ExpressionEngine()


def test_arithmetic_over_fields() -> None:
    expression = engine.compile("qty * unit_price * (1 - discount / 100)")
    assert expression.evaluate({"qty": 2, "unit_price": 50, "discount": 10}) == 90


def test_the_names_an_expression_reads_are_known_after_parsing() -> None:
    expression = engine.compile("stage == 'lost' and amount > limit.max")
    assert expression.names == {"stage", "amount", "limit"}


def test_a_bare_name_is_a_name_it_reads() -> None:
    assert engine.compile("today").names == {"today"}


def test_filters_over_subtable_rows() -> None:
    expression = engine.compile("items | sum(attribute='line_total')")
    assert expression.evaluate({"items": [{"line_total": 3}, {"line_total": 4}]}) == 7


def test_an_unknown_name_reads_as_none() -> None:
    assert engine.compile("missing").evaluate({}) is None


def test_names_it_does_not_read_are_not_handed_to_it() -> None:
    record = {"qty": 2, "unit_price": 50, **{f"other_{n}": n for n in range(40)}}
    assert engine.compile("qty * unit_price").evaluate(record) == 100


def test_a_value_named_like_a_function_hides_the_function() -> None:
    with_double = ExpressionEngine({"double": lambda value: 2 * value})
    assert with_double.compile("double").evaluate({"double": 7}) == 7
    assert with_double.compile("double(3)").evaluate({}) == 6


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("a +", "unexpected 'end of expression'"),
        ("a b", "unexpected 'b' after the expression"),
        ("x | no_such_filter", "No filter named 'no_such_filter'"),
        ("", "unexpected 'end of expression'"),
    ],
)
def test_a_broken_expression_says_why(source: str, reason: str) -> None:
    with pytest.raises(ExpressionError, match=reason):
        engine.compile(source)


def test_python_internals_are_out_of_reach() -> None:
    expression = engine.compile("x.__class__.__mro__")
    with pytest.raises(ExpressionError, match="is not allowed: access to attribute '__class__'"):
        expression.evaluate({"x": 1})


def test_mutating_a_value_is_refused() -> None:
    expression = engine.compile("rows.append(1)")
    with pytest.raises(ExpressionError, match=r"not allowed|failed"):
        expression.evaluate({"rows": []})


def test_huge_powers_are_refused() -> None:
    with pytest.raises(ExpressionLimit, match="the exponent is larger than 100"):
        engine.compile("2 ** 100000").evaluate({})


def test_huge_repetition_is_refused() -> None:
    with pytest.raises(ExpressionLimit, match="more than 100,000 characters or items"):
        engine.compile("'ab' * n").evaluate({"n": 10**8})


def test_failures_at_run_time_become_expression_errors() -> None:
    with pytest.raises(ExpressionError, match="failed"):
        engine.compile("1 / x").evaluate({"x": 0})


def test_functions_from_plugins_are_callable_and_not_counted_as_names() -> None:
    with_functions = ExpressionEngine({"double": lambda value: value * 2})
    expression = with_functions.compile("double(amount)")
    assert expression.names == {"amount"}
    assert expression.evaluate({"amount": 21}) == 42
