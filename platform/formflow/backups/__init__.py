"""Backups: the database, the attachments and the settings, with checksums; restores into
a new place; automatic backups on a schedule, each checked, the oldest pruned.

This package knows nothing of the web; ``formflow backup`` and ``formflow restore`` and
the scheduled job call it.
"""

from formflow.backups.making import PREFIX, Backup, create_backup
from formflow.backups.manifest import BackupError, Manifest, read_manifest
from formflow.backups.restoring import check_backup, restore_backup
from formflow.backups.schedule import latest_backup, list_backups, prune, scheduled_backup

__all__ = [
    "PREFIX",
    "Backup",
    "BackupError",
    "Manifest",
    "check_backup",
    "create_backup",
    "latest_backup",
    "list_backups",
    "prune",
    "read_manifest",
    "restore_backup",
    "scheduled_backup",
]
