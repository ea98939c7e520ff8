"""Hypothesis profiles: modest example counts by default, so that the unit folder stays
fast; HYPOTHESIS_PROFILE=thorough for a deeper search (e.g. before a release)."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "default",
    max_examples=25,
    deadline=None,  # shared CI machines stall now and then
    database=None,  # no example database: the unit folder does no I/O
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("thorough", max_examples=1000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
