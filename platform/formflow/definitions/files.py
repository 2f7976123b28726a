"""Where an app definition's files come from: a folder, or a mapping of path to text.

The CLI loads folders; a stored definition version, and the designer's drafts, are mappings
of relative paths (``forms/lead.yaml``) to their text. The loader reads both the same way,
so nothing is written to a temporary folder just to be read back.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Protocol

from formflow.definitions.source import MAX_FILE_BYTES


class AppFiles(Protocol):
    """The files of one app definition, by path relative to the app (``app.yaml``)."""

    @property
    def name(self) -> str:
        """How messages name the app as a whole (its folder, say)."""
        ...

    def exists(self) -> bool:
        """Whether there is an app here at all (a folder that exists)."""
        ...

    def read(self, relative: str) -> bytes | None:
        """The file's bytes, or ``None`` when there is no such file."""
        ...

    def glob(self, pattern: str) -> list[str]:
        """The relative paths of the files matching ``pattern``, sorted."""
        ...

    def display(self, relative: str) -> str:
        """How messages name one file (``FILE:LINE:COL``)."""
        ...


class FolderFiles:
    """The files of an app folder on disk."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    @property
    def name(self) -> str:
        return str(self.folder)

    def exists(self) -> bool:
        return self.folder.is_dir()

    def read(self, relative: str) -> bytes | None:
        path = self.folder / relative
        if not path.is_file():
            return None
        with path.open("rb") as file:  # no more than the loader will look at
            return file.read(MAX_FILE_BYTES + 1)

    def glob(self, pattern: str) -> list[str]:
        return sorted(
            path.relative_to(self.folder).as_posix()
            for path in self.folder.glob(pattern)
            if path.is_file()
        )

    def display(self, relative: str) -> str:
        return str(self.folder / relative)


class MappingFiles:
    """The files of a definition held in memory: a stored version, or a draft."""

    def __init__(self, files: Mapping[str, str | bytes], name: str = "draft") -> None:
        self.files = {
            PurePosixPath(path).as_posix(): text.encode("utf-8") if isinstance(text, str) else text
            for path, text in files.items()
        }
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    def exists(self) -> bool:
        return True

    def read(self, relative: str) -> bytes | None:
        return self.files.get(PurePosixPath(relative).as_posix())

    def glob(self, pattern: str) -> list[str]:
        """Like a folder's glob: ``*`` stays within one folder, ``**`` crosses folders."""
        depth = len(PurePosixPath(pattern).parts)
        return sorted(
            path
            for path in self.files
            if fnmatch.fnmatchcase(path, pattern)
            and ("**" in pattern or len(PurePosixPath(path).parts) == depth)
        )

    def display(self, relative: str) -> str:
        return relative


def app_files(source: str | Path | AppFiles | Mapping[str, str | bytes]) -> AppFiles:
    """``source`` as :class:`AppFiles`: a folder's path, a mapping of files, or as it is."""
    if isinstance(source, str | Path):
        return FolderFiles(source)
    if isinstance(source, Mapping):
        return MappingFiles(source)
    return source
