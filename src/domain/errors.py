"""Errors the domain raises when asked to do something illegal."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error the domain raises."""


class InvalidTransition(DomainError):
    """A message was asked to move to a state it cannot reach from where it is."""


class LeaseLost(InvalidTransition):
    """The caller no longer holds the message's lease."""


class NaiveDatetime(DomainError, ValueError):
    """A datetime without a time zone reached the domain."""
