"""App definitions: YAML folders in, an immutable compiled :class:`App` out."""

from formflow.definitions.loader import load_app
from formflow.definitions.model import App, Field, Form

__all__ = ["App", "Field", "Form", "load_app"]
