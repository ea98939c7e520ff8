"""Errors the application layer and its ports raise (adapters translate into these)."""

from __future__ import annotations


class ApplicationError(Exception):
    """Base of the application's errors."""


class StorageError(ApplicationError):
    """The store failed to do what was asked (the adapter's driver error is the cause)."""


class StorageUnavailable(StorageError):
    """The store cannot be reached (network, server down, timeout)."""


class ConfigurationError(ApplicationError):
    """A setting is missing or malformed; the message names it."""
