"""Exporting an app's definition as a zip, and reading one back without trusting it.

A bundle holds the definition files and ``manifest.json``: the app's key, the version it was
taken from, and each file's SHA-256. Nothing else goes in (no secrets: definitions name
environment variables, never their values). Reading a bundle refuses, before anything is
used, every file outside the app (absolute paths, ``..``, backslashes), anything that is
not a definition file, too many or too large files (by the sizes actually read, not the
sizes the zip declares) and any file whose checksum does not match the manifest.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from formflow.definitions.source import MAX_FILE_BYTES
from formflow.errors import FormflowError

MANIFEST = "manifest.json"
FORMAT = 1
MAX_FILES = 500
MAX_TOTAL_BYTES = 50 * 1024 * 1024
MAX_BUNDLE_BYTES = 20 * 1024 * 1024


class BundleRefused(FormflowError):
    """A zip that is not a safe, intact Formflow app bundle; the message says why."""


@dataclass(frozen=True)
class Bundle:
    app_key: str
    version: int | None
    files: Mapping[str, str] = field(hash=False)


def checksum(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def write_bundle(app_key: str, version: int | None, files: Mapping[str, str]) -> bytes:
    """The app's files and their manifest as zip bytes."""
    manifest = {
        "format": FORMAT,
        "app": app_key,
        "version": version,
        "files": {path: checksum(text) for path, text in sorted(files.items())},
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False))
        for path, text in sorted(files.items()):
            archive.writestr(path, text)
    return buffer.getvalue()


def read_bundle(data: bytes) -> Bundle:
    """The bundle in ``data``; :class:`BundleRefused` for anything unsafe or damaged."""
    if len(data) > MAX_BUNDLE_BYTES:
        raise BundleRefused(f"the zip is larger than {MAX_BUNDLE_BYTES // 1_048_576} MB")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise BundleRefused("the file is not a zip") from None
    with archive:
        entries = [entry for entry in archive.infolist() if not entry.is_dir()]
        if len(entries) > MAX_FILES + 1:
            raise BundleRefused(f"the zip holds more than {MAX_FILES} files")
        for entry in entries:
            _check_name(entry.filename)
        texts = _read_all(archive, entries)
    manifest = _manifest(texts.pop(MANIFEST, None))
    listed = manifest["files"]
    if not isinstance(listed, dict):  # pragma: no cover - _manifest checked it
        raise BundleRefused(f"{MANIFEST} lists no files")
    if set(listed) != set(texts):
        missing = sorted(set(listed) - set(texts))
        extra = sorted(set(texts) - set(listed))
        raise BundleRefused(
            f"the zip does not match its manifest (missing: {missing}, not listed: {extra})"
        )
    for path, text in texts.items():
        if checksum(text) != listed[path]:
            raise BundleRefused(f"{path} does not match its checksum in the manifest")
    version = manifest.get("version")
    return Bundle(str(manifest["app"]), version if isinstance(version, int) else None, texts)


def _check_name(name: str) -> None:
    path = PurePosixPath(name)
    if (
        "\\" in name
        or path.is_absolute()
        or ".." in path.parts
        or name.startswith("/")
        or ":" in name
    ):
        raise BundleRefused(f"the zip holds a file outside the app: {name!r}")
    if name != MANIFEST and path.suffix != ".yaml":
        raise BundleRefused(f"the zip holds a file that is not a definition: {name!r}")


def _read_all(archive: zipfile.ZipFile, entries: list[zipfile.ZipInfo]) -> dict[str, str]:
    """Every entry's text, counting the bytes really inflated (a zip may lie about sizes)."""
    texts: dict[str, str] = {}
    total = 0
    for entry in entries:
        with archive.open(entry) as source:
            raw = source.read(MAX_FILE_BYTES + 1)
        if len(raw) > MAX_FILE_BYTES:
            raise BundleRefused(f"{entry.filename} is larger than 5 MB")
        total += len(raw)
        if total > MAX_TOTAL_BYTES:
            raise BundleRefused(f"the zip unpacks to more than {MAX_TOTAL_BYTES // 1_048_576} MB")
        try:
            texts[entry.filename] = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise BundleRefused(f"{entry.filename} is not UTF-8 text") from None
    return texts


def _manifest(text: str | None) -> dict[str, object]:
    if text is None:
        raise BundleRefused(f"the zip has no {MANIFEST}; it is not a Formflow app bundle")
    try:
        manifest = json.loads(text)
    except json.JSONDecodeError:
        raise BundleRefused(f"{MANIFEST} is not valid JSON") from None
    if (
        not isinstance(manifest, dict)
        or manifest.get("format") != FORMAT
        or not isinstance(manifest.get("app"), str)
        or not isinstance(manifest.get("files"), dict)
    ):
        raise BundleRefused(f"{MANIFEST} is not a Formflow bundle manifest of format {FORMAT}")
    return manifest
