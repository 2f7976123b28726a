"""The expression budget holds whatever an expression does: a generated corpus of hostile ones.

Expressions are built from every filter, test and method the sandbox offers and every
operator, with huge and awkward arguments, nested and repeated. Each must give a value within
the limits (an operation builds at most ``size``; a list written out, ``[w, w, w]``, may
gather up to ``total``) or be refused with an :class:`ExpressionError` (usually the budget's own
:class:`ExpressionLimit`). The budget here is small, so a refusal comes after little work; a
broken bound shows as a value past the limits, another exception, or a suite that never ends.
"""

from __future__ import annotations

import itertools
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from formflow.expression_budget import Limits, measure
from formflow.expressions import Expression, ExpressionEngine, ExpressionError, ExpressionLimit

SMALL = Limits(size=500, total=5_000, integer_bits=512, power=100, steps=100, seconds=60)
engine = ExpressionEngine(limits=SMALL)

NAMES: dict[str, Any] = {
    "s": "ab\tc\n" * 90,
    "w": "y" * 480,
    "n": 10**9,
    "m": 99,
    "big": 2**500,
    "xs": list(range(200)),
    "rows": [{"a": index, "b": "x" * 10} for index in range(20)],
    "d": Decimal("12345.678"),
    "today": date(2026, 1, 31),
    "now": datetime(2026, 1, 31, 12, 30),
}
"""Values a record could hold, each as large as the small budget lets a value be."""

HUGE = ["10**9", "-10**9", "99", "n", "m", "big", "w", "s", "xs", "'%*d'", "'{:>99999}'", "''"]
"""Arguments that ask for a lot: widths, counts, exponents, long texts, format strings."""

SUBJECTS = [*NAMES.values(), b"x\ty" * 100, 1.5, {"a": "y" * 400}, (1, "y" * 400)]
ARGUMENTS = [10**9, -(10**9), 99, 2**500, "y" * 480, "%*d", "{:>99999}", "", [0] * 400]
"""The same as values, so one compiled expression tries them all."""

FILTERS = sorted(engine.environment.filters)
TESTS = sorted(name for name in engine.environment.tests if name.isidentifier())
METHODS = sorted({name for value in SUBJECTS for name in dir(value) if not name.startswith("_")})
OPERATORS = ["+", "-", "*", "/", "//", "%", "**", "~"]


def outcome(source: str, names: dict[str, Any] = NAMES) -> Any:
    """The expression's value, checked against the limits, or ``None`` when it is refused."""
    try:
        expression = engine.compile(source)
    except ExpressionError:
        return None
    return checked(source, expression, names)


def checked(source: str, expression: Expression, names: dict[str, Any]) -> Any:
    try:
        value = expression.evaluate(names)
    except ExpressionError:
        return None
    assert measure(value, SMALL, SMALL.total) <= SMALL.total, (source, names)
    return value


def argument_lists(arity: int) -> list[tuple[Any, ...]]:
    """Every argument alone; in pairs, each with a number, a huge number and a long text."""
    if arity < 2:
        return list(itertools.product(ARGUMENTS, repeat=arity))
    pairs = itertools.product(ARGUMENTS, [99, 10**9, "y" * 480])
    return [(value,) * arity for value in ARGUMENTS] + [(pair * arity)[:arity] for pair in pairs]


def every_call(template: str, subjects: list[Any]) -> None:
    """``template`` over every subject with up to three huge arguments (``p1``...)."""
    for arity in range(4):
        parameters = ", ".join(f"p{index}" for index in range(1, arity + 1))
        source = template.format(parameters)
        expression = engine.compile(source)
        for subject in subjects:
            for arguments in argument_lists(arity):
                names = {"p0": subject} | {f"p{i}": a for i, a in enumerate(arguments, 1)}
                checked(source, expression, names)


@pytest.mark.parametrize("name", FILTERS)
def test_every_filter_with_huge_arguments_stays_within_the_budget(name: str) -> None:
    every_call(f"p0 | {name}({{}})", SUBJECTS)


@pytest.mark.parametrize("name", METHODS)
def test_every_method_with_huge_arguments_stays_within_the_budget(name: str) -> None:
    every_call(f"p0.{name}({{}})", [value for value in SUBJECTS if hasattr(value, name)])


@pytest.mark.parametrize("name", TESTS)
def test_every_test_with_huge_arguments_stays_within_the_budget(name: str) -> None:
    every_call(f"p0 is {name}({{}})", SUBJECTS)


@pytest.mark.parametrize("operator", OPERATORS)
def test_every_operator_with_huge_operands_stays_within_the_budget(operator: str) -> None:
    once = engine.compile(f"p0 {operator} p1")
    twice = engine.compile(f"(p0 {operator} p1) {operator} p1")
    for left, right in itertools.product([*SUBJECTS, *ARGUMENTS], ARGUMENTS):
        checked(operator, once, {"p0": left, "p1": right})
        checked(operator, twice, {"p0": left, "p1": right})


def expressions() -> st.SearchStrategy[str]:
    leaves = st.sampled_from([*NAMES, *HUGE, "1", "2.5", "[s, w, xs]", "'x'"])

    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        arguments = st.lists(inner, max_size=3).map(", ".join)
        return st.one_of(
            st.tuples(inner, st.sampled_from(OPERATORS), inner).map(
                lambda parts: f"({parts[0]}) {parts[1]} ({parts[2]})"
            ),
            st.tuples(inner, st.sampled_from(FILTERS), arguments).map(
                lambda parts: f"({parts[0]}) | {parts[1]}({parts[2]})"
            ),
            st.tuples(inner, st.sampled_from(METHODS), arguments).map(
                lambda parts: f"({parts[0]}).{parts[1]}({parts[2]})"
            ),
            st.tuples(inner, st.sampled_from(TESTS), inner).map(
                lambda parts: f"({parts[0]}) is {parts[1]}(({parts[2]}))"
            ),
            st.tuples(inner, st.sampled_from(["map", "select", "reject"]), inner).map(
                lambda parts: f"({parts[0]}) | list | {parts[1]}({parts[2]}) | list"
            ),
            st.lists(inner, min_size=1, max_size=4).map(lambda items: f"[{', '.join(items)}]"),
            st.tuples(inner, inner, inner).map(lambda p: f"({p[0]}) if ({p[1]}) else ({p[2]})"),
            inner.map(lambda item: f"not ({item})"),
            inner.map(lambda item: f"-({item})"),
        )

    return st.recursive(leaves, extend, max_leaves=12)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expressions())
def test_generated_hostile_expressions_stay_within_the_budget(source: str) -> None:
    outcome(source)


@given(st.lists(st.integers(min_value=2, max_value=99), min_size=2, max_size=5))
def test_chained_powers_are_refused_before_they_grow_past_the_integer_limit(
    exponents: list[int],
) -> None:
    source = exponents[0].__str__()
    for exponent in exponents[1:]:
        source = f"({source}) ** {exponent}"
    value = outcome(source)
    assert value is None or value.bit_length() <= SMALL.integer_bits


@given(st.integers(min_value=1, max_value=40))
def test_repeated_joining_is_refused_once_past_the_size_limit(parts: int) -> None:
    value = outcome(" ~ ".join(["w"] * parts))
    assert (value is None) == (parts * len(NAMES["w"]) > SMALL.size)


def test_work_past_the_step_limit_is_refused() -> None:
    few_steps = ExpressionEngine(limits=Limits(steps=50))
    expression = few_steps.compile("xs | map('string') | map('upper') | list | length")
    with pytest.raises(ExpressionLimit, match="more than 50 steps"):
        expression.evaluate({"xs": list(range(100))})


def test_work_past_the_time_limit_is_refused() -> None:
    no_time = ExpressionEngine(limits=Limits(seconds=-1))
    with pytest.raises(ExpressionLimit, match="runs longer than -1 seconds"):
        no_time.compile("a + 1").evaluate({"a": 1})


def test_a_value_given_to_an_operation_may_be_larger_than_one_it_builds() -> None:
    assert engine.compile("notes | length").evaluate({"notes": "x" * 4_000}) == 4_000
    with pytest.raises(ExpressionLimit, match="more than 500 characters or items"):
        engine.compile("notes | upper").evaluate({"notes": "x" * 4_000})


def test_a_value_gathered_without_an_operation_is_refused_past_the_total() -> None:
    expression = engine.compile("[w, w, w, w, w, w, w, w, w, w, w, w] | string")
    with pytest.raises(ExpressionLimit, match="given a value of more than 5,000 characters"):
        expression.evaluate(NAMES)


def test_many_values_each_within_the_size_limit_are_refused_past_the_total() -> None:
    expression = engine.compile("xs | map('center', 400) | list")
    with pytest.raises(ExpressionLimit, match="more than 5,000 characters or items in all"):
        expression.evaluate({"xs": list(range(100))})


@pytest.mark.parametrize(
    "source",
    [
        "'x' | center(10**9)",
        "'x'.ljust(10**9)",
        "'x'.zfill(10**9)",
        "'%999999999d' % 1",
        "'%*d' | format(999999999, 1)",
        "'{:>999999999}'.format(1)",
        "['x'] | join('y' * 10**5)",
        "'a\\tb'.expandtabs(10**9)",
        "('x' * 1000) | replace('', 'y' * 1000)",
        "'a b' | wordwrap(1, wrapstring='y' * 99999)",
        "'a' | indent(10**9)",
        "[1] | batch(10**9, 0) | list",
        "[1] | slice(10**9) | list",
        "(9 ** 99) ** 99",
        "5 | round(-10**9)",
        "(1).to_bytes(10**9, 'big')",
    ],
)
def test_growth_that_is_predictable_is_refused_before_the_work_is_done(source: str) -> None:
    with pytest.raises(ExpressionLimit, match="is refused"):
        ExpressionEngine().compile(source).evaluate({})


def test_a_decimal_scaled_past_the_integer_limit_is_refused() -> None:
    with pytest.raises(ExpressionLimit, match="a number of more than 1,233 digits"):
        ExpressionEngine().compile("amount.scaleb(999999)").evaluate({"amount": Decimal(1)})


def test_ordinary_formulas_fit_the_default_budget() -> None:
    expression = ExpressionEngine().compile(
        "(items | sum(attribute='line_total')) ~ ' / ' ~ ('%.2f' | format(rate * 100)) ~ '%'"
    )
    rows = [{"line_total": Decimal("1.50")} for _ in range(1_000)]
    assert expression.evaluate({"items": rows, "rate": 0.125}) == "1500.00 / 12.50%"


@pytest.mark.parametrize(
    "source",
    [
        "(" * 500 + "1" + ")" * 500,
        "not " * 500 + "x",
        "- " * 500 + "1",
        " + ".join(["x"] * 1_000),
        "x" + ".a" * 1_000,
        "x" + " | abs" * 1_000,
        "[" * 300 + "]" * 300,
        "x if y else " * 300 + "z",
    ],
)
def test_deep_nesting_is_refused_when_parsed(source: str) -> None:
    with pytest.raises(ExpressionError, match="nested more than 50 levels deep"):
        ExpressionEngine().compile(source)


def test_nesting_up_to_the_limit_is_allowed() -> None:
    assert ExpressionEngine().compile("(" * 10 + "1" + ")" * 10).evaluate({}) == 1
    assert ExpressionEngine().compile(" + ".join(["x"] * 40)).evaluate({"x": 1}) == 40


def test_deeply_nested_values_are_refused_at_run_time() -> None:
    nested: list[Any] = []
    for _ in range(100_000):
        nested = [nested]
    with pytest.raises(ExpressionError, match=r"is refused|failed"):
        ExpressionEngine().compile("x | string").evaluate({"x": nested})
