"""The few storage exceptions the services catch, with their messages in one place."""

from __future__ import annotations


class StorageError(Exception):
    """Base class of the storage layer's own errors."""


class NotFound(StorageError):
    """The record the call refers to does not exist."""

    def __init__(self, what: str, key: str) -> None:
        super().__init__(f"{what} not found: {key}")
        self.what = what
        self.key = key


class CampaignClosed(StorageError):
    """The campaign no longer (or does not yet) accept submissions, edits or withdrawals."""

    def __init__(self, campaign_id: str, reason: str) -> None:
        super().__init__(f"campaign {campaign_id} is not accepting changes: {reason}")
        self.campaign_id = campaign_id
        self.reason = reason  # "closed" | "deadline" | "not-open-yet"


class UnsupportedDatabase(StorageError):
    """DATABASE_URL names a database this bot does not support."""
