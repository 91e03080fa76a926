"""Where bilm keeps its data, and how a user's path is turned into a UCI HAR folder."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

DATA_DIR_ENV = "BILM_DATA_DIR"
UCI_HAR_FOLDER = "UCI HAR Dataset"


def data_dir() -> Path:
    """$BILM_DATA_DIR, else the platform's user cache directory for bilm (not created here)."""
    env = os.environ.get(DATA_DIR_ENV)
    return Path(env).expanduser() if env else platformdirs.user_cache_path("bilm")


def downloaded_uci_har() -> Path:
    """Where `fetch_uci_har()` puts the dataset by default (it may not exist yet)."""
    return data_dir() / UCI_HAR_FOLDER


def is_uci_root(path: Path) -> bool:
    return (path / "train").is_dir() and (path / "test").is_dir()


def find_uci_root(path: str | os.PathLike[str]) -> Path:
    """The folder holding train/ and test/: `path` itself or its "UCI HAR Dataset" child."""
    path = Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    for candidate in (path, path / UCI_HAR_FOLDER):
        if is_uci_root(candidate):
            return candidate
    raise FileNotFoundError(
        f"{path}: not a UCI HAR folder (it holds neither train/ and test/ nor a "
        f"{UCI_HAR_FOLDER!r} folder)"
    )
