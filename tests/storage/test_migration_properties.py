"""Random sequences of definition edits never lose or change a value they did not ask to.

Hypothesis edits a small app step by step (adds, renames and removes fields, widens and
narrows types, toggles indexes, adds and removes forms, inserts records and fills fields)
and migrates after each edit. The test keeps its own copy of every stored row, hidden columns and hidden
tables included, changes it only as each edit says it should, and compares it with the
database after every step. Whether a narrowing is refused is predicted independently of
the engine's conversion code, from the values themselves.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

from helpers import Rows, insert_rows, stored_rows, update_rows
from hypothesis import HealthCheck, Phase, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import Engine, inspect

from formflow.errors import MigrationRefused
from formflow.storage.migrations import migrate

SETTINGS = settings(
    max_examples=10,
    stateful_step_count=8,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    # Every step migrates a real database, so shrinking a failure takes many minutes; eight
    # steps or fewer read well enough unshrunk.
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)
APP_KEYS = itertools.count(1)
OPTIONS = "options: [{value: A, label: A}, {value: B, label: B}]"
WHOLE_NUMBER = re.compile(r"\s*[+-]?\d+\s*")
TYPES = ("text", "number", "decimal", "date", "bool", "select", "multiselect")

Transform = Callable[[Any], Any]


@dataclass(frozen=True)
class FieldSpec:
    """A field as the test writes it into a form file."""

    key: str
    type: str
    max_length: int = 20
    scale: int = 0
    indexed: bool = False
    unique: bool = False
    renamed_from: str | None = None
    tidy: bool = True
    """Whether its values are the kind that survive narrowing (whole numbers)."""

    def yaml(self) -> str:
        parts = [f"key: {self.key}", f"type: {self.type}", f"label: {self.key}"]
        if self.type == "text":
            parts.append(f"max_length: {self.max_length}")
        if self.type == "number" and self.scale:
            parts.append(f"scale: {self.scale}")
        if self.type in ("select", "multiselect"):
            parts.append(OPTIONS)
        parts += ["indexed: true"] * self.indexed + ["unique: true"] * self.unique
        if self.renamed_from:
            parts.append(f"renamed_from: {self.renamed_from}")
        return "{" + ", ".join(parts) + "}"

    def values(self) -> st.SearchStrategy[Any]:
        """Values a record may hold in this field, empty included."""
        return st.none() | _VALUES[self.type](self)


def _text(spec: FieldSpec) -> st.SearchStrategy[Any]:
    """Whole numbers written as text when the field is tidy, anything short when not."""
    if spec.tidy:
        values = st.sampled_from(["12", " -7 ", "007", "+3"]) | st.from_regex(
            r"-?\d{1,4}", fullmatch=True
        )
    else:
        values = st.sampled_from(["a", "B", "abcdefg", "1.5"]) | st.text("abAB 09", max_size=8)
    return values.filter(lambda value: len(value) <= spec.max_length)


def _number(spec: FieldSpec) -> st.SearchStrategy[Any]:
    """Whole values when the field is tidy; any value of the field's scale when not."""
    if not spec.scale:
        return st.integers(-3, 3) | st.integers(-(10**6), 10**6)
    quantum = Decimal(1).scaleb(-spec.scale)
    if spec.tidy:
        return st.integers(-3, 3).map(lambda whole: Decimal(whole).quantize(quantum))
    return st.decimals(-(10**6), 10**6, places=spec.scale)


_VALUES: dict[str, Callable[[FieldSpec], st.SearchStrategy[Any]]] = {
    "text": _text,
    "number": _number,
    "date": lambda f: st.dates(date(1990, 1, 1), date(2100, 1, 1)),
    "bool": lambda f: st.booleans(),
    "select": lambda f: st.sampled_from(["A", "B"]),
    "multiselect": lambda f: st.lists(st.sampled_from(["A", "B"]), unique=True),
}


def new_spec(key: str, kind: str, tidy: bool = True) -> FieldSpec:
    if kind == "decimal":
        return FieldSpec(key, "number", scale=2, tidy=tidy)
    return FieldSpec(key, kind, tidy=tidy)


def form_yaml(key: str, fields: list[FieldSpec]) -> str:
    lines = [f"key: {key}", f"label: {key}", "title_field: name", "fields:"]
    lines.append("  - {key: name, type: text, label: Name, max_length: 20}")
    lines += [f"  - {field.yaml()}" for field in fields]
    lines.append("permissions:\n  staff: {create: all, read: all, update: all, delete: all}")
    return "\n".join(lines) + "\n"


class DefinitionEdits(RuleBasedStateMachine):
    """One app per example, in the test's database, edited and migrated step by step."""

    engine: ClassVar[Engine]
    root: ClassVar[Path]

    def __init__(self) -> None:
        super().__init__()
        self.app_key = f"p{next(APP_KEYS)}"
        self.folder = self.root / self.app_key
        self.keys = (f"f{n}" for n in itertools.count(1))
        self.fields: dict[str, FieldSpec] = {}
        self.hidden: dict[str, FieldSpec] = {}
        self.extra_forms: list[str] = []
        self.expected: dict[str, Rows] = {}

    @property
    def item(self) -> str:
        return f"{self.app_key}__item"

    def write(self, fields: dict[str, FieldSpec], extra_forms: list[str]) -> None:
        forms = self.folder / "forms"
        forms.mkdir(parents=True, exist_ok=True)
        for path in forms.glob("*.yaml"):
            path.unlink()
        (self.folder / "app.yaml").write_text(
            f'key: {self.app_key}\nversion: "1"\nlabel: App\nroles:\n  - key: staff\n'
            "    label: Staff\ninclude:\n  forms: [forms/*.yaml]\n",
            encoding="utf-8",
        )
        (forms / "item.yaml").write_text(form_yaml("item", list(fields.values())), "utf-8")
        for key in extra_forms:
            (forms / f"{key}.yaml").write_text(form_yaml(key, []), "utf-8")

    def migrate(self, fields: dict[str, FieldSpec], extra_forms: list[str] | None = None) -> bool:
        """Migrate to these fields; whether the migration went through (else it was refused)."""
        forms = self.extra_forms if extra_forms is None else extra_forms
        self.write(fields, forms)
        try:
            migrate(self.engine, self.folder, dry_run=False)
        except MigrationRefused:
            self.write(self.fields, self.extra_forms)
            return False
        self.fields, self.extra_forms = fields, forms
        for table in self.app_tables():
            self.expected.setdefault(table, {})
        return True

    def app_tables(self) -> list[str]:
        names = inspect(self.engine).get_table_names()
        return sorted(name for name in names if name.startswith(f"{self.app_key}__"))

    def field_values(self, key: str) -> list[Any]:
        return [row[key] for row in self.expected[self.item].values() if row[key] is not None]

    def set_column(self, old: str, new: str, transform: Transform) -> None:
        for row in self.expected[self.item].values():
            value = row.pop(old)
            row[new] = None if value is None else transform(value)

    @initialize(kinds=st.lists(st.sampled_from(TYPES), min_size=1, max_size=3), data=st.data())
    def first_migration(self, kinds: list[str], data: st.DataObject) -> None:
        specs = [new_spec(next(self.keys), kind, data.draw(st.booleans())) for kind in kinds]
        assert self.migrate({spec.key: spec for spec in specs})
        self.insert_records(data, data.draw(st.integers(2, 5)))

    @rule(kind=st.sampled_from(TYPES), tidy=st.booleans())
    def add_field(self, kind: str, tidy: bool) -> None:
        spec = new_spec(next(self.keys), kind, tidy)
        assert self.migrate({**self.fields, spec.key: spec})
        for row in self.expected[self.item].values():
            row[spec.key] = None

    @precondition(lambda self: self.fields)
    @rule(data=st.data())
    def rename_field(self, data: st.DataObject) -> None:
        old = data.draw(st.sampled_from(sorted(self.fields)))
        spec = replace(self.fields[old], key=next(self.keys), renamed_from=old)
        fields = {key: value for key, value in self.fields.items() if key != old}
        assert self.migrate({**fields, spec.key: spec})
        self.set_column(old, spec.key, lambda value: value)

    @precondition(lambda self: self.fields)
    @rule(data=st.data())
    def remove_field(self, data: st.DataObject) -> None:
        key = data.draw(st.sampled_from(sorted(self.fields)))
        self.hidden[key] = self.fields[key]
        assert self.migrate({k: v for k, v in self.fields.items() if k != key})

    @precondition(lambda self: self.hidden)
    @rule(data=st.data())
    def add_removed_field_again(self, data: st.DataObject) -> None:
        key = data.draw(st.sampled_from(sorted(self.hidden)))
        spec = replace(self.hidden.pop(key), renamed_from=None)
        assert self.migrate({**self.fields, key: spec})

    @precondition(lambda self: any(f.type in ("text", "number") for f in self.fields.values()))
    @rule(data=st.data())
    def widen_type(self, data: st.DataObject) -> None:
        candidates = sorted(k for k, f in self.fields.items() if f.type in ("text", "number"))
        spec = self.fields[data.draw(st.sampled_from(candidates))]
        if spec.type == "text":
            wider = replace(spec, max_length=spec.max_length * 2)
        else:
            wider = replace(spec, scale=min(spec.scale + 2, 6))
        assert self.migrate({**self.fields, spec.key: wider})
        self.set_column(spec.key, spec.key, Decimal if spec.type == "number" else str)

    @precondition(lambda self: any(narrowings(f) for f in self.fields.values()))
    @rule(data=st.data())
    def narrow_type(self, data: st.DataObject) -> None:
        candidates = sorted(k for k, f in self.fields.items() if narrowings(f))
        spec = self.fields[data.draw(st.sampled_from(candidates))]
        narrower, transform = data.draw(st.sampled_from(narrowings(spec)))
        converted = self.converted(spec.key, transform)
        survives = converted is not None and not (spec.unique and has_duplicates(converted))
        applied = self.migrate({**self.fields, spec.key: narrower})
        event(f"narrowing {spec.type} {'applied' if applied else 'refused'}")
        assert applied == survives
        if applied:
            self.set_column(spec.key, spec.key, transform)

    def converted(self, key: str, transform: Transform) -> list[Any] | None:
        """The field's values after ``transform``; ``None`` if any cannot be converted."""
        try:
            return [transform(value) for value in self.field_values(key)]
        except ValueError:
            return None

    @precondition(lambda self: indexable(self.fields))
    @rule(data=st.data())
    def toggle_index(self, data: st.DataObject) -> None:
        spec = self.fields[data.draw(st.sampled_from(indexable(self.fields)))]
        assert self.migrate({**self.fields, spec.key: replace(spec, indexed=not spec.indexed)})

    @precondition(lambda self: indexable(self.fields))
    @rule(data=st.data())
    def toggle_unique(self, data: st.DataObject) -> None:
        spec = self.fields[data.draw(st.sampled_from(indexable(self.fields)))]
        clash = not spec.unique and has_duplicates(self.field_values(spec.key))
        applied = self.migrate({**self.fields, spec.key: replace(spec, unique=not spec.unique)})
        event(f"unique {'applied' if applied else 'refused'}")
        assert applied == (not clash)

    @rule()
    def add_form(self) -> None:
        key = f"form{len(self.extra_forms)}"
        assert self.migrate(self.fields, [*self.extra_forms, key])
        self.insert(f"{self.app_key}__{key}", [{"name": "extra"}])

    @precondition(lambda self: self.extra_forms)
    @rule()
    def remove_form(self) -> None:
        assert self.migrate(self.fields, self.extra_forms[:-1])

    @rule(data=st.data(), count=st.integers(1, 3))
    def insert_records(self, data: st.DataObject, count: int) -> None:
        taken = {key: set(self.field_values(key)) for key, f in self.fields.items() if f.unique}
        rows = []
        for _ in range(count):
            row: dict[str, Any] = {"name": "record"}
            for key, spec in self.fields.items():
                value = data.draw(spec.values())
                if key in taken:
                    value = None if value in taken[key] else value  # empty, never repeated
                    taken[key].add(value)
                row[key] = value
            rows.append(row)
        self.insert(self.item, rows)

    @precondition(lambda self: self.fields and self.expected[self.item])
    @rule(data=st.data())
    def fill_field(self, data: st.DataObject) -> None:
        """Give a field values in existing records, as people do after adding it."""
        spec = self.fields[data.draw(st.sampled_from(sorted(self.fields)))]
        values = {row_id: data.draw(spec.values()) for row_id in self.expected[self.item]}
        if spec.unique:
            seen: set[Any] = set()
            values = {i: None if v in seen else seen.add(v) or v for i, v in values.items()}
        update_rows(self.engine, self.item, spec.key, values)
        stored = stored_rows(self.engine, self.item)
        for row_id, row in self.expected[self.item].items():
            row[spec.key] = stored[row_id][spec.key]

    def insert(self, table: str, rows: list[dict[str, Any]]) -> None:
        ids = insert_rows(self.engine, table, *rows)
        stored = stored_rows(self.engine, table)
        self.expected[table].update({row_id: stored[row_id] for row_id in ids})

    @invariant()
    def every_stored_value_is_as_expected(self) -> None:
        actual = {table: stored_rows(self.engine, table) for table in self.app_tables()}
        assert actual == self.expected


def narrowings(spec: FieldSpec) -> list[tuple[FieldSpec, Transform]]:
    """The narrower versions of a field, each with what it does to one stored value."""
    found: list[tuple[FieldSpec, Transform]] = []
    if spec.type == "text" and spec.max_length > 5:
        found.append((replace(spec, max_length=5), _shorter_than(5)))
    if spec.type == "text":
        found.append((replace(spec, type="number", scale=0), _whole_number_text))
    if spec.type == "number" and spec.scale:
        found.append((replace(spec, scale=0), _whole_number))
    return found


def _shorter_than(limit: int) -> Transform:
    def transform(value: str) -> str:
        if len(value) > limit:
            raise ValueError(value)
        return value

    return transform


def _whole_number_text(value: str) -> int:
    if not WHOLE_NUMBER.fullmatch(value):
        raise ValueError(value)
    return int(value)


def _whole_number(value: Decimal | int) -> int:
    if Decimal(value) != Decimal(value).to_integral_value():
        raise ValueError(value)
    return int(value)


def indexable(fields: dict[str, FieldSpec]) -> list[str]:
    return sorted(key for key, spec in fields.items() if spec.type != "multiselect")


def has_duplicates(values: list[Any]) -> bool:
    return len(set(values)) < len(values)


def test_definition_edits_keep_every_value_they_do_not_change(
    engine: Engine, tmp_path: Path
) -> None:
    class Edits(DefinitionEdits):
        pass

    Edits.engine, Edits.root = engine, tmp_path
    run_state_machine_as_test(Edits, settings=SETTINGS)
