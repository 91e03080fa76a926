"""Built-in datasets: download, verify and load public HAR datasets into one form.

    from bilm.data.datasets import DATASETS, load
    data = load("motionsense")                # the downloaded copy ($BILM_DATA_DIR)
    data = load("dsads", "~/data/DSADS", segments=True)
    data.signal, data.labels, data.classes, data.channels, data.sampling_rate
    for rec in data: rec.signal, rec.labels, rec.subject, rec.name

Every dataset loads as a `RecordingSet` (see `recordings`): per recording a float32
(samples, channels) signal, an int64 label per sample indexing `classes`, a subject id and a
name; channel names carry their unit ("acc_x [g]"); the sampling rate is in Hz. The first
load parses the files, later ones are memory maps from bilm's cache. One module per dataset
documents its format, its quirks and what was checked against the real files.

Command line: `python -m bilm.data download NAME`, `info NAME [--json]`,
`windows --dataset NAME ...` (a dataset .npz for training).
"""

from __future__ import annotations

from pathlib import Path

from bilm.data.datasets import dsads, motionsense, uci_har, usc_had, wisdm
from bilm.data.datasets.recordings import Dataset, PathLike, Recording, RecordingSet, split_unit

DATASETS: dict[str, Dataset] = {module.DATASET.name: module.DATASET
                                for module in (uci_har, motionsense, usc_had, wisdm, dsads)}


def dataset(name: str) -> Dataset:
    """The built-in dataset called `name`; the error lists the names there are."""
    try:
        return DATASETS[name]
    except KeyError:
        raise ValueError(f"no built-in dataset {name!r}; there are: {', '.join(DATASETS)}") from None


def load(name: str, root: PathLike | None = None, *, cache: bool = True, **options) -> RecordingSet:
    """Load built-in dataset `name` from `root` (default: its downloaded copy in $BILM_DATA_DIR)."""
    return dataset(name).load(root, cache=cache, **options)


def fetch(name: str, dest: PathLike | None = None, **kwargs) -> Path:
    """Download and verify built-in dataset `name` into `dest` (default: $BILM_DATA_DIR); see
    `bilm.data.download.fetch` for the options."""
    return dataset(name).fetch(dest, **kwargs)


__all__ = ["DATASETS", "Dataset", "Recording", "RecordingSet", "dataset", "fetch", "load", "split_unit"]
