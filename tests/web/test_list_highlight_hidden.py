"""A list's ``highlight`` that reads a field hidden from the reader neither refuses their
list nor marks a row for them: it reads nothing extra and colours nothing (a colour would
tell what the hidden field holds)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from formflow.testing import Sandbox
from support import MINIMAL_APP_YAML

ITEM = """\
key: item
label: {zh: 物品, en: Item}
title_field: name
fields:
  - {key: name, type: text, label: {zh: 名称, en: Name}, required: true}
  - {key: secret, type: number, label: {zh: 密数, en: Secret}}
list:
  columns: [name]
  highlight: "secret is not none and secret > 10"
permissions:
  staff: {create: all, read: all, update: all, delete: none, fields: {secret: hidden}}
  manager: {create: all, read: all, update: all, delete: none}
"""


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    files = {"app.yaml": MINIMAL_APP_YAML, "forms/item.yaml": ITEM}
    with Sandbox(tmp_path, files) as made:
        made.add_user("ann", roles=["staff"])
        boss = made.add_user("bob", roles=["manager"])
        made.records.create(boss, "item", {"name": "Big one", "secret": 99})
        made.records.create(boss, "item", {"name": "Small one", "secret": 1})
        yield made


def highlighted_rows(page: str) -> list[str]:
    return re.findall(r'<tr class="highlight" data-highlight>(.*?)</tr>', page, re.S)


def test_a_reader_the_field_is_hidden_from_sees_the_whole_list(sandbox: Sandbox) -> None:
    page = sandbox.client("ann").get("/demo/item/")
    assert page.status_code == 200
    assert "Big one" in page.text
    assert "Small one" in page.text
    assert "could not be shown" not in page.text


def test_no_row_stands_out_for_that_reader(sandbox: Sandbox) -> None:
    assert highlighted_rows(sandbox.client("ann").get("/demo/item/").text) == []


def test_a_reader_who_sees_the_field_sees_its_rows_stand_out(sandbox: Sandbox) -> None:
    [row] = highlighted_rows(sandbox.client("bob").get("/demo/item/").text)
    assert "Big one" in row
