"""Export and import of an app as a zip: a draft to review, and hostile zips refused."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from formflow.designer import Designer
from formflow.designer.bundles import MANIFEST, BundleRefused, read_bundle, write_bundle
from formflow.designer.drafts import DraftError
from formflow.lifecycle.instance import Instance

FILES = {"app.yaml": "key: demo\n", "forms/item.yaml": "key: item\n"}


def zipped(entries: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in entries.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def bundle_with(extra: dict[str, str]) -> bytes:
    with zipfile.ZipFile(io.BytesIO(write_bundle("demo", 1, FILES))) as archive:
        entries = {name: archive.read(name).decode() for name in archive.namelist()}
    return zipped({**entries, **extra})


def test_a_bundle_reads_back_as_the_files_it_was_made_from() -> None:
    bundle = read_bundle(write_bundle("demo", 3, FILES))
    assert (bundle.app_key, bundle.version, dict(bundle.files)) == ("demo", 3, FILES)


@pytest.mark.parametrize("name", ["../evil.yaml", "/etc/evil.yaml", "forms\\..\\x.yaml"])
def test_a_file_outside_the_app_is_refused(name: str) -> None:
    with pytest.raises(BundleRefused, match="outside the app"):
        read_bundle(bundle_with({name: "x: 1\n"}))


def test_a_file_that_is_not_a_definition_is_refused() -> None:
    with pytest.raises(BundleRefused, match="not a definition"):
        read_bundle(bundle_with({"run.py": "print()"}))


def test_a_file_changed_after_export_fails_its_checksum() -> None:
    with zipfile.ZipFile(io.BytesIO(write_bundle("demo", 1, FILES))) as archive:
        manifest = archive.read(MANIFEST).decode()
    tampered = zipped({MANIFEST: manifest, **FILES, "forms/item.yaml": "key: evil\n"})
    with pytest.raises(BundleRefused, match="checksum"):
        read_bundle(tampered)


def test_a_file_that_unpacks_too_large_is_refused() -> None:
    huge = "a" * (5 * 1024 * 1024 + 1)
    manifest = json.dumps({"format": 1, "app": "demo", "files": {"big.yaml": ""}})
    with pytest.raises(BundleRefused, match="larger than 5 MB"):
        read_bundle(zipped({MANIFEST: manifest, "big.yaml": huge}))


def test_a_zip_without_a_manifest_is_refused() -> None:
    with pytest.raises(BundleRefused, match=r"no manifest\.json"):
        read_bundle(zipped(FILES))


def test_an_imported_bundle_is_merged_into_the_draft_not_the_live_app(
    designer: Designer, instance: Instance
) -> None:
    exported = designer.export("demo")
    with zipfile.ZipFile(io.BytesIO(exported)) as archive:
        files = {n: archive.read(n).decode() for n in archive.namelist() if n != MANIFEST}
    files["forms/item.yaml"] = files["forms/item.yaml"].replace("Quantity", "Count")
    designer.import_bundle("demo", write_bundle("demo", 1, files), None)
    assert "Count" in designer.draft("demo").files["forms/item.yaml"].text
    assert instance.app("demo").forms["item"].field("qty").label.en == "Quantity"


def test_an_import_over_unpublished_work_is_refused(designer: Designer) -> None:
    first = designer.draft("demo").files["forms/item.yaml"]
    designer.save("demo", "forms/item.yaml", first.text + "# mine\n", first.revision, None)
    with pytest.raises(DraftError, match="not published"):
        designer.import_bundle("demo", designer.export("demo"), None)
