"""Errors a user can cause and fix; every layer raises these so entry points print one line."""

from __future__ import annotations


class HoidapError(Exception):
    """An error whose message is written for the user (no traceback is shown)."""


class IngestError(HoidapError):
    """A file could not be read as articles; the message names the file and the reason."""


class UsageError(HoidapError):
    """The request itself is wrong (missing path, bad flag value); nothing was done."""
