"""Shared fixtures. The real UCI HAR copy is optional: tests that need it skip without it."""

from __future__ import annotations

from pathlib import Path

import pytest

from bilm.bench.common import UCI_HAR_ENV, real_uci_har

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def uci_har_root() -> Path:
    """$BILM_UCI_HAR_DIR, else the read-only copy laid beside a developer's checkout."""
    root = real_uci_har(beside=REPO)
    if root is None:
        pytest.skip(f"real UCI HAR dataset not found (set {UCI_HAR_ENV} to a folder holding train/ and test/)")
    return root
