"""A backup or restore that cannot be made, in words that say what to do."""

from __future__ import annotations

from app.errors import HubclassError


class BackupError(HubclassError):
    title = "Backup"
