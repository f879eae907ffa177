"""Fixtures shared with the sources tests (small ASE molecules)."""

from tests.sources.conftest import ethanol, water  # noqa: F401  (fixtures)
