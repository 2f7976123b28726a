"""The interface in Simplified Chinese: every message translated, and the pages speaking it.

``make setup`` compiles the catalogues; so that the suite also passes when run on its own,
a stale or missing ``.mo`` is compiled here first (written atomically, as tests run in
parallel).
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask.testing import FlaskClient

import formflow

PACKAGE = Path(formflow.__file__).resolve().parent
CATALOGUE = PACKAGE / "translations" / "zh" / "LC_MESSAGES" / "messages.po"
METHODS = [("**.py", "python"), ("templates/**.html", "jinja2")]
KEYWORDS = {
    "N_": None,  # the engine's message ids: its errors and problems, shown translated
    "_": None,
    "gettext": None,
    "ngettext": (1, 2),
    "_l": None,
    "lazy_gettext": None,
    "pgettext": ((1, "c"), 2),
}
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")


@pytest.fixture(scope="module", autouse=True)
def compiled() -> None:
    target = CATALOGUE.with_suffix(".mo")
    if target.exists() and target.stat().st_mtime >= CATALOGUE.stat().st_mtime:
        return
    with CATALOGUE.open("rb") as source:
        catalogue = read_po(source, locale="zh")
    handle, temporary = tempfile.mkstemp(dir=target.parent, suffix=".mo.tmp")
    with os.fdopen(handle, "wb") as output:
        write_mo(output, catalogue)
    os.chmod(temporary, 0o644)  # as `pybabel compile` would leave it, not mkstemp's 0600
    os.replace(temporary, target)


def interface_messages() -> set[tuple[str | None, str]]:
    """Every message the code and templates pass through gettext, as ``pybabel`` sees them,
    with its context (``pgettext``'s, else ``None``): one English word may need two
    translations, as "Created" does for a column (创建时间) and a history entry (创建)."""
    found = set()
    for _file, _line, message, _comments, context in extract_from_dir(
        str(PACKAGE), METHODS, keywords=KEYWORDS
    ):
        found.add((context, message if isinstance(message, str) else message[0]))
    return found


def test_every_interface_message_has_a_chinese_translation() -> None:
    with CATALOGUE.open("rb") as source:
        catalogue = read_po(source, locale="zh")
    translated = {
        (entry.context, entry.id if isinstance(entry.id, str) else entry.id[0]): entry
        for entry in catalogue
        if entry.id
        and (entry.string if isinstance(entry.string, str) else all(entry.string))
        and "fuzzy" not in entry.flags
    }
    missing = sorted(interface_messages() - set(translated), key=str)
    assert not missing, (
        f"{len(missing)} message(s) lack a Chinese translation; run `make translations` and "
        f"translate them in {CATALOGUE.relative_to(PACKAGE.parents[1])}: {missing}"
    )


def test_translations_keep_their_placeholders() -> None:
    with CATALOGUE.open("rb") as source:
        catalogue = read_po(source, locale="zh")
    for entry in catalogue:
        if not entry.id:
            continue
        original = entry.id if isinstance(entry.id, str) else entry.id[0]
        strings = [entry.string] if isinstance(entry.string, str) else list(entry.string)
        for string in strings:
            assert sorted(PLACEHOLDER.findall(string)) == sorted(PLACEHOLDER.findall(original)), (
                original
            )


def test_the_sign_in_page_speaks_chinese_to_a_chinese_browser(client: FlaskClient) -> None:
    page = client.get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}).text
    assert '<html lang="zh-CN">' in page
    assert "登录" in page
    assert "用户名" in page
    assert "Sign in" not in page


def test_and_english_to_an_english_one(client: FlaskClient) -> None:
    page = client.get("/login", headers={"Accept-Language": "en-GB,en;q=0.9"}).text
    assert "Sign in" in page
    assert "登录" not in page


def test_admin_pages_in_chinese(client: FlaskClient, login: Callable[[str], FlaskClient]) -> None:
    login("admin")  # whose language is Chinese
    page = client.get("/admin/users").text
    assert "用户与部门" in page
    assert "新建用户" in page
    assert "系统管理员" in page
    form = client.get("/admin/users/new").text
    assert "在“客户关系管理（CRM-SFA）”中的角色" in form


def test_each_message_is_translated_once() -> None:
    """Once per context: ``pgettext`` gives one text a translation per place it stands."""
    ids = re.findall(
        r'^(?:msgctxt "(.*)"\n)?msgid "(.+)"$', CATALOGUE.read_text(encoding="utf-8"), re.M
    )
    assert sorted({text for text in ids if ids.count(text) > 1}) == []
