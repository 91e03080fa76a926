"""The validation split: carved from the training data, by subject when the data has subjects.

Holding out whole subjects measures what matters for HAR, how the model does on people it has
never seen (the test split of UCI HAR is 9 other subjects). Windows of one person are strongly
correlated, so a random split would let validation see the training subjects and overrate
every epoch. Without subject ids the split is stratified by class. With val_subjects=0 nothing
is held out: the final refit on every training subject once a study has fixed the settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sklearn.model_selection import train_test_split

from bilm.config import BILMConfig


@dataclass(frozen=True)
class Split:
    train: np.ndarray  # int64 indices into the training data
    val: np.ndarray
    val_subjects: tuple[int, ...] | None  # None for a stratified split, () for none held out
    unlabeled: np.ndarray = field(default_factory=lambda: np.arange(0))  # of `train`: used without their labels

    def describe(self) -> str:
        unlabeled = f" ({len(self.unlabeled)} of them without their labels)" if len(self.unlabeled) else ""
        if not len(self.val):
            return f"{len(self.train)} windows for training{unlabeled}, none held out for validation"
        held = (f"subjects {', '.join(map(str, self.val_subjects))}" if self.val_subjects is not None
                else "a stratified sample")
        return f"{len(self.train)} windows for training{unlabeled}, {len(self.val)} for validation ({held})"


def validation_split(y: np.ndarray, subjects: np.ndarray | None, cfg: BILMConfig) -> Split:
    """Hold out the subjects cfg.val_subject_ids names, or cfg.val_subjects of them chosen by
    cfg.seed, or cfg.val_fraction of the windows; nothing when cfg.val_subjects is 0 and none
    are named. With cfg.label_subjects, keep the labels of only that many of the training
    subjects; the other windows train without theirs. With cfg.train_subjects, train on only
    that many of the subjects left (for learning curves)."""
    if subjects is not None:
        held = _held_out(np.unique(subjects), cfg)
        return _subject_split(subjects, held, cfg.train_subjects, cfg.label_subjects, cfg.seed)
    for name in ("train_subjects", "label_subjects", "val_subject_ids"):
        if getattr(cfg, name):
            raise ValueError(f"{name}={getattr(cfg, name)} needs subject ids, and the data has none")
    if cfg.val_subjects == 0:
        return Split(np.arange(len(y)), np.arange(0), ())
    try:
        train, val = train_test_split(np.arange(len(y)), test_size=cfg.val_fraction,
                                      stratify=y, random_state=cfg.seed)
    except ValueError as e:  # e.g. a class with a single window
        raise ValueError(f"cannot carve a stratified validation split: {e}") from None
    return Split(np.sort(train), np.sort(val), None)


def _held_out(unique: np.ndarray, cfg: BILMConfig) -> np.ndarray:
    """The validation subjects: those named, or cfg.val_subjects drawn with the seed."""
    ids = cfg.val_subject_ids
    given = f"val_subject_ids={','.join(map(str, ids))}" if ids else f"val_subjects={cfg.val_subjects}"
    if (len(ids) if ids else cfg.val_subjects) >= len(unique):
        raise ValueError(f"{given} but the training data has only {len(unique)} subjects; "
                         "at least one must stay for training")
    if not ids:
        return np.sort(np.random.default_rng(cfg.seed).choice(unique, size=cfg.val_subjects, replace=False))
    missing = sorted(set(ids) - set(unique.tolist()))
    if missing:
        raise ValueError(f"{given} names subject(s) {', '.join(map(str, missing))} that the training data "
                         f"does not have (it has {', '.join(map(str, unique))})")
    return np.array(sorted(ids), dtype=unique.dtype)


def _subject_split(subjects: np.ndarray, held: np.ndarray, n_train: int, n_labelled: int, seed: int) -> Split:
    unique = np.unique(subjects)
    rest = unique[~np.isin(unique, held)]
    for name, n in (("train_subjects", n_train), ("label_subjects", n_labelled)):
        if n > len(rest):
            raise ValueError(f"{name}={n} but only {len(rest)} subjects are left after "
                             f"holding out {len(held)} for validation")
    # A prefix of one permutation per seed: smaller sets are subsets of larger ones, and the
    # same seed labels the same subjects as it trains on with train_subjects.
    order = np.random.default_rng([seed, 1]).permutation(rest)
    if n_train:
        rest = order[:n_train]
    train = np.flatnonzero(np.isin(subjects, rest))
    unlabeled = train[~np.isin(subjects[train], order[:n_labelled])] if n_labelled else np.arange(0)
    return Split(train, np.flatnonzero(np.isin(subjects, held)), tuple(int(s) for s in held), unlabeled)
