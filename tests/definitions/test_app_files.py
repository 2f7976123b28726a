"""An app loads the same from its folder and from a mapping of its files (a stored version,
a designer's draft), with nothing written to disk."""

from __future__ import annotations

import pytest

from formflow.definitions import load_app
from formflow.errors import DefinitionErrors
from formflow.storage.versions import read_app_files
from support import CRM_APP


def test_a_mapping_of_files_compiles_to_the_same_app_as_its_folder() -> None:
    from_folder = load_app(CRM_APP)
    from_mapping = load_app(read_app_files(CRM_APP))
    assert from_mapping == from_folder
    assert from_mapping.digest == from_folder.digest


def test_errors_in_a_draft_name_its_files_by_their_paths() -> None:
    files = read_app_files(CRM_APP)
    files["forms/lead.yaml"] = files["forms/lead.yaml"].replace("title_field:", "titel_field:")
    with pytest.raises(DefinitionErrors) as caught:
        load_app(files)
    assert any(str(error).startswith("forms/lead.yaml:") for error in caught.value.errors)


def test_a_glob_in_a_draft_stays_in_its_folder() -> None:
    files = read_app_files(CRM_APP)
    files["forms/old/copy.yaml"] = "not: [valid"  # not matched by forms/*.yaml
    assert load_app(files) == load_app(CRM_APP)


def test_a_draft_without_app_yaml_says_so() -> None:
    with pytest.raises(DefinitionErrors, match=r"no app\.yaml here"):
        load_app({"forms/item.yaml": "key: item"})
