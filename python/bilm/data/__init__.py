"""Datasets for bilm: UCI HAR (downloaded, verified, cached) and your own recordings (.npz).

    from bilm.data import load_dataset
    data = load_dataset()             # the downloaded UCI HAR copy (fetched on first use)
    data = load_dataset("my.npz")     # your recordings, cut by `python -m bilm.data windows`

Command line: `python -m bilm.data download|synth|windows|info|cache --help`.
"""

from bilm.data.cache import load_uci_har
from bilm.data.dataset import load_dataset
from bilm.data.download import DownloadError, fetch_uci_har
from bilm.data.har import UCI_HAR_CLASSES, UCI_HAR_SIGNALS, HARData, signal_path
from bilm.data.locations import data_dir
from bilm.data.npz import load_npz, save_npz

__all__ = [
    "UCI_HAR_CLASSES",
    "UCI_HAR_SIGNALS",
    "DownloadError",
    "HARData",
    "data_dir",
    "fetch_uci_har",
    "load_dataset",
    "load_npz",
    "load_uci_har",
    "save_npz",
    "signal_path",
]
