"""Security headers on every response: pages, API answers, errors and static files alike.

The Content-Security-Policy lets a page run only scripts and styles served by the app
itself: no inline script, no inline style, no ``eval``, nothing from another site. So a
value that slipped into a page unescaped still could not run. Formflow's own script and
htmx are files (htmx told, in ``base.html``, not to add a style element of its own), and a
coloured dot is drawn in SVG rather than with a ``style`` attribute. No page may be framed
by another site (clickjacking).
"""

from __future__ import annotations

from flask import Flask
from werkzeug.wrappers import Response

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


_NAMED = tuple((name.lower(), name, value) for name, value in HEADERS.items())


def secure(response: Response) -> Response:
    """Add each header the response does not have yet (a view may set its own), looking
    through the response's headers once rather than once per header."""
    present = set(response.headers.keys(lower=True))
    for lowered, name, value in _NAMED:
        if lowered not in present:
            response.headers.add(name, value)
    return response


def init_app(app: Flask) -> None:
    app.after_request(secure)
