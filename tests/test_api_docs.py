"""docs/api.md keeps up with the API: every error code the code can produce is documented."""

from __future__ import annotations

import re

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound, RequestEntityTooLarge

from formflow.errors import RecordError
from formflow.web import api  # noqa: F401  (defines the API's own RecordError kinds)
from support import ROOT

PLATFORM = ROOT / "platform" / "formflow"
DOC = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
HTTP_ERRORS: tuple[type[HTTPException], ...] = (NotFound, MethodNotAllowed, RequestEntityTooLarge)
"""What Werkzeug itself answers under /api/v1: an unknown path, a wrong method, a body too
large; formflow.web.errors turns each into a code from its name."""


def record_error_codes() -> set[str]:
    found: set[str] = set()
    pending = list(RecordError.__subclasses__())
    while pending:
        kind = pending.pop()
        if "code" in vars(kind):  # a base that only shares a constructor declares none
            found.add(kind.code)
        pending += kind.__subclasses__()
    return found


def sources() -> str:
    return "\n".join(path.read_text(encoding="utf-8") for path in PLATFORM.rglob("*.py"))


def error_codes() -> set[str]:
    literal = set(re.findall(r'error_body\(\s*"([a-z_]+)"', sources()))
    http = {kind().name.lower().replace(" ", "_") for kind in HTTP_ERRORS}
    return record_error_codes() | literal | http


def problem_codes() -> set[str]:
    return set(re.findall(r'\b(?:Problem|Invalid)\(\s*"([a-z_]+)"', sources()))


def documented() -> set[str]:
    return set(re.findall(r"`([a-z_]+)`", DOC))


def test_the_collection_finds_the_codes_it_should() -> None:
    assert {"validation_failed", "unauthorized", "version_required", "method_not_allowed"} <= (
        error_codes()
    )
    assert {"required", "unique", "min_rows", "choice"} <= problem_codes()


def test_every_error_code_is_documented() -> None:
    assert sorted(error_codes() - documented()) == []


def test_every_field_problem_code_is_documented() -> None:
    assert sorted(problem_codes() - documented()) == []


def test_the_readme_links_the_api_docs() -> None:
    assert "(docs/api.md)" in (ROOT / "README.md").read_text(encoding="utf-8")
