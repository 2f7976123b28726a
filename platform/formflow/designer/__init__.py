"""The designer: admins change an app's definition in the browser, safely.

Drafts kept on the server, round-trip YAML edits addressed by keys, checks with their
places, and publishing through the migration path every definition change takes. No Flask
here: :mod:`formflow.web.designer_pages` is the thin page layer over :class:`Designer`.
"""

from formflow.designer.service import Designer, HistoryEntry, Publication, PublishPreview

__all__ = ["Designer", "HistoryEntry", "Publication", "PublishPreview"]
