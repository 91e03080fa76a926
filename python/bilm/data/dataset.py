"""`load_dataset`: one call from a path (or nothing) to train/test arrays."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from bilm.data.cache import load_uci_har
from bilm.data.download import fetch_uci_har
from bilm.data.har import UCI_HAR_CLASSES, HARData
from bilm.data.locations import downloaded_uci_har, find_uci_root
from bilm.data.datasets import uci_har
from bilm.data.npz import SensorData, load_npz


def load_dataset(path: str | os.PathLike[str] | None = None, *, download: bool = True,
                 cache: bool = True) -> HARData:
    """Load a UCI HAR folder, a dataset .npz, or (path=None) the downloaded UCI HAR copy.

    A UCI folder is the one holding train/ and test/, or the folder above "UCI HAR Dataset".
    With path=None and no copy yet, `download` fetches one (saying so first); otherwise the
    error says how to get it. `cache=False` parses UCI text files without the binary cache.
    """
    if path is None:
        return load_uci_folder(_downloaded_copy(download), cache=cache)
    path = Path(path).expanduser()
    if path.suffix == ".npz" or path.is_file():
        return load_npz(path)
    return load_uci_folder(find_uci_root(path), cache=cache)


def load_uci_folder(root: Path, *, cache: bool = True) -> HARData:
    X_train, y_train, subject_train = load_uci_har(root, "train", cache=cache)
    X_test, y_test, subject_test = load_uci_har(root, "test", cache=cache)
    return SensorData(X_train, y_train, X_test, y_test, subject_train, subject_test, classes=UCI_HAR_CLASSES,
                      source=str(root), channels=uci_har.CHANNELS, sampling_rate=uci_har.SAMPLING_RATE)


def _downloaded_copy(download: bool) -> Path:
    root = downloaded_uci_har()
    if root.is_dir():
        return root
    if not download:
        raise FileNotFoundError(
            f"no UCI HAR copy in {root.parent}: get it with `python -m bilm.data download`, "
            "set BILM_DATA_DIR to where it is, or pass the path of a dataset"
        )
    print(f"UCI HAR is not in {root.parent} yet: downloading it once (about 60 MB)", file=sys.stderr)
    return fetch_uci_har(root.parent)
