"""Shared fixtures. The real UCI HAR copy is optional: tests that need it skip without it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# BILM_TEST_UCI_HAR points at a folder holding train/ and test/; the default is the
# read-only copy laid beside a developer's checkout.
REAL_UCI_HAR = Path(os.environ.get("BILM_TEST_UCI_HAR", REPO.parent / "shared" / "uci-har" / "UCI HAR Dataset"))


@pytest.fixture(scope="session")
def uci_har_root() -> Path:
    if not (REAL_UCI_HAR / "train" / "y_train.txt").is_file():
        pytest.skip(f"real UCI HAR dataset not found at {REAL_UCI_HAR} (set BILM_TEST_UCI_HAR)")
    return REAL_UCI_HAR
