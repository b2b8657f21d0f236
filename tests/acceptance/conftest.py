"""Acceptance tests run the real command line: ``python -m clockwf`` in a subprocess.

Helpers live in ``tests.acceptance.cli_support``; import them from there, never from here."""

from __future__ import annotations

import pytest

from .cli_support import Clockwf, run_clockwf


@pytest.fixture
def clockwf() -> Clockwf:
    """:func:`run_clockwf`: ``clockwf ARGS...`` from the repository root."""
    return run_clockwf
