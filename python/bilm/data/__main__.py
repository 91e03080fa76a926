"""python -m bilm.data download|synth|windows|info|cache: get, generate, build and inspect datasets,
and see or clear bilm's cache of parsed datasets."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bilm.data.cache import (
    cache_dir,
    cache_disabled,
    cache_entries,
    clear_cache,
    folder_cache_dir,
    legacy_cache_folder,
    uci_har_entry,
)
from bilm.data.checksums import read_sha256sums
from bilm.data.dataset import load_dataset
from bilm.data.datasets import DATASETS, RecordingSet, dataset
from bilm.data.download import DownloadError
from bilm.data.har import HARData
from bilm.data.locations import DATA_DIR_ENV, data_dir, find_uci_root
from bilm.data.npz import save_npz
from bilm.data.windows import common_channel_names, cut_recording_set, cut_windows, read_recording

NAMES = ", ".join(DATASETS)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        args.run(args)
    except (FileNotFoundError, ValueError, DownloadError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bilm.data", description=__doc__)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    download = commands.add_parser("download", help="download and verify a built-in dataset (default: UCI HAR)")
    download.add_argument("name", nargs="?", default="uci-har", metavar="NAME",
                          help=f"the dataset: {NAMES} (default: uci-har)")
    download.add_argument("--dest", help="folder to put the dataset's folder in "
                                         f"(default: ${DATA_DIR_ENV} or {data_dir()})")
    download.add_argument("--url", help="a mirror of the dataset's archive, or a file:// path (default: the "
                                        "dataset's $BILM_<NAME>_URL, e.g. $BILM_WISDM_URL, or its official address)")
    download.add_argument("--sha256sums", metavar="FILE",
                          help="check the data files against this file (sha256sum's format, paths relative to "
                               "the dataset's folder) instead of the sums bilm pins or recorded")
    download.add_argument("--force", action="store_true", help="download again even if a copy is there")
    download.add_argument("--quiet", action="store_true", help="no progress bar")
    download.set_defaults(run=_download)

    synth = commands.add_parser("synth", help="write a synthetic dataset in the exact UCI HAR layout and format")
    synth.add_argument("--out", required=True, help="folder to write train/ and test/ into")
    synth.add_argument("--train", type=int, required=True, help="training windows")
    synth.add_argument("--test", type=int, required=True, help="test windows")
    synth.add_argument("--seed", type=int, default=0, help="the same seed writes the same files (default: 0)")
    synth.add_argument("--subjects", type=int, default=30, help="subjects, about 30%% of them in test (default: 30)")
    synth.set_defaults(run=_synth)

    windows = commands.add_parser("windows", help="cut your own recordings into a dataset .npz")
    _add_windows_arguments(windows)
    windows.set_defaults(run=_windows)

    info = commands.add_parser("info", help="describe a dataset (default: the downloaded UCI HAR)")
    info.add_argument("target", nargs="?", metavar="NAME|PATH",
                      help=f"a built-in dataset ({NAMES}), a UCI HAR folder or a dataset .npz; a folder named "
                           "like a dataset is written ./NAME")
    info.add_argument("--root", help="with NAME: the dataset's folder (default: the downloaded copy)")
    info.add_argument("--json", action="store_true", help="print one JSON object (recordings, samples, subjects, "
                                                          "classes, channels, ...)")
    info.add_argument("--no-cache", action="store_true", help="parse without the binary cache")
    info.set_defaults(run=_info)

    cache = commands.add_parser("cache", help="where bilm's cache of parsed datasets is, its entries and size")
    cache.add_argument("--clear", action="store_true",
                       help="remove every entry (only bilm's cache directory is touched, never a dataset folder)")
    cache.set_defaults(run=_cache)
    return parser


def _add_windows_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("recordings", nargs="*", metavar="RECORDING",
                   help="a CSV (header; channel columns and a label column) or a .npy of (samples, channels)")
    p.add_argument("--dataset", metavar="NAME", help=f"cut a built-in dataset instead of recordings: {NAMES}")
    p.add_argument("--root", help="with --dataset: the dataset's folder (default: the downloaded copy)")
    p.add_argument("--out", required=True, help="the .npz to write")
    p.add_argument("--label-column", help="CSV column with each sample's label (default: label)")
    p.add_argument("--channels", type=_names,
                   help="channels to use, comma-separated: CSV columns, a .npy's column names, or a dataset's "
                        "channels (default: all but the label)")
    p.add_argument("--labels", action="append", metavar="NPY",
                   help="per-sample labels of a .npy recording; once per recording, in order")
    p.add_argument("--label", action="append", metavar="NAME",
                   help="one label for a whole recording; once per recording, in order")
    p.add_argument("--subject", action="append", type=int, metavar="ID",
                   help="the subject of a recording; once per recording, in order")
    p.add_argument("--classes", type=_names, help="class names in label order, comma-separated (default: sorted)")
    p.add_argument("--sampling-rate", type=float, metavar="HZ",
                   help="the recordings' sampling rate, written into the .npz (a dataset has its own)")
    p.add_argument("--size", type=int, default=128, help="samples per window (default: 128, as UCI HAR)")
    p.add_argument("--step", type=int, default=64, help="samples between window starts (default: 64, 50%% overlap)")
    p.add_argument("--test-subjects", type=int, nargs="+", default=[], metavar="ID",
                   help="hold out these subjects' recordings as the test part (with --dataset, by default "
                        "the subjects its authors held out, if they did)")
    p.add_argument("--test-recordings", nargs="+", default=[], metavar="RECORDING",
                   help="hold out these recordings as the test part")
    p.add_argument("--test-fraction", type=float, default=0.25,
                   help="without held-out subjects or recordings: the test share of every labelled "
                        "stretch, taken from its end (default: 0.25)")


def _names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def _download(args: argparse.Namespace) -> None:
    sums = read_sha256sums(args.sha256sums) if args.sha256sums else None
    target = dataset(args.name).fetch(args.dest, url=args.url, progress=not args.quiet, force=args.force,
                                      checksums=sums)
    print(target)


def _synth(args: argparse.Namespace) -> None:
    # Imported here: the generator belongs to bilm.synth, and only this command needs it.
    from bilm.synth import write_uci_tree

    write_uci_tree(args.out, args.train, args.test, seed=args.seed, n_subjects=args.subjects)
    print(f"wrote {args.train} training and {args.test} test windows in the UCI HAR layout to {args.out}")


def _windows(args: argparse.Namespace) -> None:
    if args.dataset:
        data = _dataset_windows(args)
    else:
        data = _recording_windows(args)
    save_npz(args.out, data)
    print(f"wrote {args.out}")
    _describe(data)


def _recording_windows(args: argparse.Namespace) -> HARData:
    count = len(args.recordings)
    if not count:
        raise ValueError("give the recordings to cut into windows, or a built-in dataset with --dataset NAME")
    for option in ("labels", "label", "subject"):
        given = getattr(args, option)
        if given is not None and len(given) != count:
            raise ValueError(f"--{option} was given {len(given)} times for {count} recordings; "
                             "give it once per recording")
    recordings = [
        read_recording(
            path,
            label_column=args.label_column or "label",
            channels=args.channels,
            labels_path=args.labels[i] if args.labels else None,
            label=args.label[i] if args.label else None,
            subject=args.subject[i] if args.subject else None,
        )
        for i, path in enumerate(args.recordings)
    ]
    if common_channel_names(recordings) is None and len({rec.channels for rec in recordings}) > 1:
        print("note: the recordings name their channels differently; the .npz names none", file=sys.stderr)
    return cut_windows(recordings, size=args.size, step=args.step, classes=args.classes,
                       test_subjects=args.test_subjects, test_recordings=args.test_recordings,
                       test_fraction=args.test_fraction, sampling_rate=args.sampling_rate)


def _dataset_windows(args: argparse.Namespace) -> HARData:
    # A dataset brings its own labels, subjects, classes and sampling rate.
    given = [f"--{name.replace('_', '-')}" for name in ("labels", "label", "subject", "classes", "label_column",
                                                        "sampling_rate") if getattr(args, name) is not None]
    given += ["RECORDING"] * bool(args.recordings) + ["--test-recordings"] * bool(args.test_recordings)
    if given:
        raise ValueError(f"{', '.join(given)} cannot be used with --dataset (a dataset brings its own recordings, "
                         "labels, subjects and sampling rate)")
    data = dataset(args.dataset).load(args.root)
    if args.channels:
        data = data.select_channels(args.channels)
    return cut_recording_set(data, size=args.size, step=args.step, test_subjects=args.test_subjects or None,
                             test_fraction=args.test_fraction)


def _info(args: argparse.Namespace) -> None:
    if args.target in DATASETS or args.root is not None:
        if args.target not in DATASETS:
            raise ValueError(f"--root goes with a built-in dataset's name ({NAMES}); got {args.target!r}")
        _info_dataset(args.target, args.root, args)
        return
    if args.json and (args.target is None or not Path(args.target).expanduser().is_file()):
        # A UCI HAR folder, or the downloaded copy: the same as `info uci-har --root PATH`.
        _info_dataset("uci-har", args.target, args)
        return
    data = load_dataset(args.target, download=False, cache=not args.no_cache)
    if args.json:
        print(json.dumps(_npz_summary(data)))
        return
    _describe(data)
    if Path(data.source).is_file():  # a .npz: no cache
        return
    root = find_uci_root(data.source)
    if args.no_cache or cache_disabled():
        print("cache: off")
    else:
        print(f"cache: {folder_cache_dir(root)}")
        for split in ("train", "test"):
            print(f"cache ({split}): {uci_har_entry(root, split) or 'none'}")
    legacy = legacy_cache_folder(root)
    if legacy is not None:
        print(f"left over: {legacy.resolve()} was written by an earlier version of bilm and is no longer used; "
              "it can be deleted")


def _info_dataset(name: str, root: str | None, args: argparse.Namespace) -> None:
    spec = dataset(name)
    data = spec.load(root, cache=not args.no_cache)
    if args.json:
        print(json.dumps({"dataset": name, **data.summary()}))
        return
    _describe_recordings(name, data)
    print(f"licence: {spec.source.licence}")
    print(f"cite: {spec.source.citation}")
    cache = "off" if args.no_cache or cache_disabled() else folder_cache_dir(data.source)
    print(f"cache: {cache}")


def _describe_recordings(name: str, data: RecordingSet) -> None:
    hours = len(data.signal) / data.sampling_rate / 3600
    print(f"dataset: {name} ({dataset(name).description})")
    print(f"source: {data.source}")
    print(f"{len(data)} recordings, {len(data.signal)} samples ({hours:.1f} h at {data.sampling_rate:g} Hz), "
          f"{len(data.subject_ids)} subjects")
    print(f"channels ({len(data.channels)}): {', '.join(data.channels)}")
    counts = np.bincount(data.labels, minlength=len(data.classes))
    for class_name, count in zip(data.classes, counts):
        print(f"  {class_name}: {count} samples")
    if data.test_subjects:
        print(f"test subjects (as published): {' '.join(map(str, data.test_subjects))}")
    for note in data.notes:
        print(f"note: {note}")


def _npz_summary(data: HARData) -> dict:
    subjects = [s for s in (data.subject_train, data.subject_test) if s is not None]
    return {
        "source": data.source,
        "train_windows": len(data.X_train),
        "test_windows": len(data.X_test),
        "steps": data.X_train.shape[2],
        "subjects": len(np.unique(np.concatenate(subjects))) if subjects else None,
        "classes": list(data.classes),
        "channels": list(getattr(data, "channels", None) or []) or None,
        "channel_count": data.X_train.shape[1],
        "sampling_rate": getattr(data, "sampling_rate", None),
    }


def _cache(args: argparse.Namespace) -> None:
    folder = cache_dir()
    if args.clear:
        try:
            removed = clear_cache()
        except OSError as e:
            raise ValueError(f"could not clear the cache in {folder}: {e}") from e
        print(f"removed {_count(removed)} ({_human(sum(entry.size for entry in removed))}) from {folder}")
        return
    entries = cache_entries()
    print(f"cache: {folder}")
    for entry in entries:
        print(f"  {entry.path.parent.name}/{entry.path.name}  {_human(entry.size)}  from {entry.source or '?'}")
    print(f"{_count(entries)}, {_human(sum(entry.size for entry in entries))} in all"
          + ("; clear them with `python -m bilm.data cache --clear`" if entries else ""))


def _count(entries: list) -> str:
    return f"{len(entries)} entr{'y' if len(entries) == 1 else 'ies'}"


def _human(size: float) -> str:
    if size < 1000:
        return f"{size:.0f} bytes"
    for unit in ("kB", "MB", "GB"):
        size /= 1000
        if size < 1000:
            break
    return f"{size:.1f} {unit}"


def _describe(data: HARData) -> None:
    print(f"source: {data.source}")
    for split, X, y, subjects in (("train", data.X_train, data.y_train, data.subject_train),
                                  ("test", data.X_test, data.y_test, data.subject_test)):
        who = f", {len(np.unique(subjects))} subjects" if subjects is not None else ""
        print(f"{split}: {X.shape[0]} windows of {X.shape[1]} channels x {X.shape[2]} steps{who}")
    channels, rate = getattr(data, "channels", None), getattr(data, "sampling_rate", None)
    if channels:
        print(f"channels: {', '.join(channels)}")
    if rate:
        print(f"sampling rate: {rate:g} Hz")
    train_counts = np.bincount(data.y_train, minlength=len(data.classes))
    test_counts = np.bincount(data.y_test, minlength=len(data.classes))
    for name, n_train, n_test in zip(data.classes, train_counts, test_counts):
        print(f"  {name}: {n_train} train, {n_test} test")


if __name__ == "__main__":
    sys.exit(main())
