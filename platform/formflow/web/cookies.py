"""Every cookie carries ``SameSite``, so no other site's page can send a request that
arrives signed in.

The cookies configured with it (the session's, "remember me") keep theirs; any other gets
``Lax``, including the deleting ``Set-Cookie`` that Flask-Login sends on sign-out without
one.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import flask
from flask import Flask


class SameSiteResponse(flask.Response):
    """A response whose cookies all carry ``SameSite`` (``Lax`` unless one is given)."""

    def set_cookie(
        self,
        key: str,
        value: str = "",
        max_age: timedelta | int | None = None,
        expires: str | datetime | int | float | None = None,
        path: str | None = "/",
        domain: str | None = None,
        secure: bool = False,
        httponly: bool = False,
        samesite: str | None = None,
        partitioned: bool = False,
    ) -> None:
        super().set_cookie(
            key,
            value,
            max_age=max_age,
            expires=expires,
            path=path,
            domain=domain,
            secure=secure,
            httponly=httponly,
            samesite=samesite or "Lax",
            partitioned=partitioned,
        )


def init_app(app: Flask) -> None:
    app.response_class = SameSiteResponse
