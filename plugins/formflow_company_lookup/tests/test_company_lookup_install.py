"""Installed (``make setup`` installs it editable), the plugin is found by its entry point
and used only by instances that enable it."""

from __future__ import annotations

from importlib import metadata

import pytest
from click.testing import CliRunner

from formflow.cli import main

INSTALLED = any(ep.name == "company_lookup" for ep in metadata.entry_points(group="formflow"))

pytestmark = pytest.mark.skipif(
    not INSTALLED, reason="pip install -e plugins/formflow_company_lookup"
)


def test_an_instance_that_enables_it_lists_its_version_and_hooks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FORMFLOW_PLUGINS", "company_lookup")
    output = CliRunner().invoke(main, ["plugins"]).output
    [row] = [line for line in output.splitlines() if line.startswith("company_lookup")]
    assert row.split()[1:5] == ["entry", "point", "0.1.0", "formflow_actions,"]
    assert "formflow_record_buttons" in row


def test_other_instances_list_it_as_disabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FORMFLOW_PLUGINS", raising=False)
    output = CliRunner().invoke(main, ["plugins"]).output
    assert "(disabled in this instance)" in output
