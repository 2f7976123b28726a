"""Reading YAML files: positions kept, hostile input refused with a clean error."""

from __future__ import annotations

from pathlib import Path

import pytest

from formflow.definitions.source import MAX_NODES, SourceError, load_document


def load(tmp_path: Path, text: str | bytes) -> object:
    path = tmp_path / "doc.yaml"
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)
    return load_document(path, "doc.yaml").data


def failure(tmp_path: Path, text: str | bytes) -> str:
    path = tmp_path / "doc.yaml"
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)
    with pytest.raises(SourceError) as caught:
        load_document(path, "doc.yaml")
    return str(caught.value.error)


def test_values_and_keys_keep_their_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "doc.yaml"
    path.write_text("a:\n  - x: 1\n    y: [2, 3]\n", encoding="utf-8")
    document = load_document(path, "doc.yaml")
    value = document.source_map.value(("a", 0, "y", 1))
    assert (value.line, value.column) == (3, 12)
    key = document.source_map.key(("a", 0, "y"))
    assert (key.line, key.column) == (3, 5)


def test_an_unknown_path_falls_back_to_its_nearest_ancestor(tmp_path: Path) -> None:
    path = tmp_path / "doc.yaml"
    path.write_text("a:\n  b: 1\n", encoding="utf-8")
    mark = load_document(path, "doc.yaml").source_map.value(("a", "missing"))
    assert (mark.line, mark.column) == (2, 3)


def test_yes_no_and_on_stay_text_and_only_true_false_are_booleans(tmp_path: Path) -> None:
    data = load(tmp_path, "a: yes\nb: no\nc: on\nd: true\ne: False\n")
    assert data == {"a": "yes", "b": "no", "c": "on", "d": True, "e": False}


def test_dates_stay_text(tmp_path: Path) -> None:
    assert load(tmp_path, "d: 2026-01-31\n") == {"d": "2026-01-31"}


def test_numbers_and_null(tmp_path: Path) -> None:
    assert load(tmp_path, "i: 42\nf: 1.5\nn: ~\ns: '7'\n") == {
        "i": 42,
        "f": 1.5,
        "n": None,
        "s": "7",
    }


def test_anchors_and_aliases_are_allowed(tmp_path: Path) -> None:
    data = load(tmp_path, "a: &x {k: 1}\nb: *x\n")
    assert data == {"a": {"k": 1}, "b": {"k": 1}}


def test_python_tags_are_refused(tmp_path: Path) -> None:
    message = failure(tmp_path, "a: !!python/object/apply:os.system ['echo hi']\n")
    assert message.startswith(
        "doc.yaml:1:4: YAML tag 'tag:yaml.org,2002:python/object/apply:os.system'"
    )


def test_custom_tags_are_refused(tmp_path: Path) -> None:
    assert failure(tmp_path, "a: !include other.yaml\n") == (
        "doc.yaml:1:4: YAML tag '!include' is not allowed in definitions"
    )


def test_an_alias_bomb_is_stopped(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 10):
        previous = f"*a{level - 1}"
        lines.append(f"a{level}: &a{level} [{', '.join([previous] * 10)}]")
    message = failure(tmp_path, "\n".join(lines) + "\n")
    assert f"expands to more than {MAX_NODES:,} values" in message


def test_a_file_over_five_megabytes_is_refused_without_reading_it(tmp_path: Path) -> None:
    path = tmp_path / "doc.yaml"
    with path.open("wb") as handle:
        handle.truncate(50 * 1024 * 1024)
    with pytest.raises(SourceError) as caught:
        load_document(path, "doc.yaml")
    assert str(caught.value.error) == (
        "doc.yaml:1:1: file is 50.0 MB; definition files may be at most 5 MB"
    )


def test_non_utf8_text_names_the_first_bad_byte(tmp_path: Path) -> None:
    message = failure(tmp_path, "a: ok\nb: caf\xe9\n".encode("latin-1"))
    assert message == "doc.yaml:2:7: file is not UTF-8 text; save it with UTF-8 encoding"


def test_a_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    assert load(tmp_path, "\ufeffa: 1\n".encode()) == {"a": 1}


def test_broken_yaml_names_the_place(tmp_path: Path) -> None:
    message = failure(tmp_path, "a: [1, 2\nb: 3\n")
    assert message == (
        "doc.yaml:2:2: invalid YAML: while parsing a flow sequence, did not find expected ',' or ']'"
    )


def test_a_line_indented_too_deep_is_named_with_a_hint(tmp_path: Path) -> None:
    message = failure(tmp_path, "a:\n  b: 1\n    c: 2\n")
    assert message == (
        "doc.yaml:3:6: invalid YAML: mapping values are not allowed in this context "
        "(is this line indented like the one above it?)"
    )


def test_a_line_indented_less_than_its_neighbours_is_named_with_a_hint(tmp_path: Path) -> None:
    message = failure(tmp_path, "a:\n  - b: 1\n    c: 2\n   d: 3\n")
    assert message.startswith("doc.yaml:4:4: invalid YAML: ")
    assert message.endswith("(is this line indented like the one above it?)")


def test_duplicate_keys_are_refused(tmp_path: Path) -> None:
    assert failure(tmp_path, "a: 1\nb: 2\na: 3\n") == "doc.yaml:3:1: duplicate key 'a'"


def test_an_empty_file_is_refused(tmp_path: Path) -> None:
    assert failure(tmp_path, "# only a comment\n") == "doc.yaml:1:1: file is empty"


def test_several_documents_in_one_file_are_refused(tmp_path: Path) -> None:
    assert failure(tmp_path, "a: 1\n---\nb: 2\n") == (
        "doc.yaml:2:1: invalid YAML: expected a single document in the stream, "
        "but found another document"
    )


def test_a_tab_in_the_indentation_is_named_as_the_mistake(tmp_path: Path) -> None:
    message = failure(tmp_path, "fields:\n  - key: a\n\trequired: true\n")
    assert message == (
        "doc.yaml:3:1: invalid YAML: this line is indented with a tab; indent with spaces "
        "(YAML allows no tabs)"
    )


def test_a_tab_inside_a_value_is_no_mistake(tmp_path: Path) -> None:
    assert load(tmp_path, "a: 'x\ty'\n") == {"a": "x\ty"}


def test_non_utf8_text_is_placed_by_characters_not_bytes(tmp_path: Path) -> None:
    message = failure(tmp_path, "a: 客户\xe9\n".encode().replace(b"\xc3\xa9", b"\xe9"))
    assert message == "doc.yaml:1:6: file is not UTF-8 text; save it with UTF-8 encoding"
