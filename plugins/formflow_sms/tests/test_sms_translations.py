"""The plugin's pages speak Chinese: each message it shows has a translation in Formflow's
catalogue, which its pages use."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

import formflow
import formflow_sms

PACKAGE = Path(formflow_sms.__file__).resolve().parent
CATALOGUE = Path(formflow.__file__).resolve().parent / "translations/zh/LC_MESSAGES/messages.po"
METHODS = [("**.py", "python"), ("**/templates/**.html", "jinja2")]


def test_every_message_of_the_plugin_has_a_chinese_translation() -> None:
    shown = {
        message if isinstance(message, str) else message[0]
        for _file, _line, message, _comments, _context in extract_from_dir(str(PACKAGE), METHODS)
    }
    with CATALOGUE.open("rb") as source:
        translated = {
            entry.id for entry in read_po(source, locale="zh") if entry.id and entry.string
        }
    assert shown
    assert sorted(shown - translated) == []
