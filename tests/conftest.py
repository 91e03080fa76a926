"""Shared fixtures. The real UCI HAR copy is optional: tests that need it skip without it."""

from __future__ import annotations

from pathlib import Path

import pytest

from bilm.bench.common import UCI_HAR_ENV, real_uci_har

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def isolated_data_dir(tmp_path, monkeypatch) -> Path:
    """Every test gets its own bilm data folder (downloads, cache) and none of the user's
    data settings, so no test reads or writes the developer's own copy."""
    monkeypatch.setenv("BILM_DATA_DIR", str(tmp_path / "data-dir"))
    for name in ("BILM_NO_CACHE", "BILM_UCI_HAR_URL"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "data-dir"


@pytest.fixture(scope="session")
def uci_har_root() -> Path:
    """$BILM_UCI_HAR_DIR, else the read-only copy laid beside a developer's checkout."""
    root = real_uci_har(beside=REPO)
    if root is None:
        pytest.skip(f"real UCI HAR dataset not found (set {UCI_HAR_ENV} to a folder holding train/ and test/)")
    return root
