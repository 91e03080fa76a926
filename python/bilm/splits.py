"""The validation split: carved from the training data, by subject when the data has subjects.

Holding out whole subjects measures what matters for HAR, how the model does on people it has
never seen (the test split of UCI HAR is 9 other subjects). Windows of one person are strongly
correlated, so a random split would let validation see the training subjects and overrate
every epoch. Without subject ids the split is stratified by class. With val_subjects=0 nothing
is held out: the final refit on every training subject once a study has fixed the settings.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import train_test_split

from bilm.config import BILMConfig


@dataclass(frozen=True)
class Split:
    train: np.ndarray  # int64 indices into the training data
    val: np.ndarray
    val_subjects: tuple[int, ...] | None  # None for a stratified split, () for none held out

    def describe(self) -> str:
        if not len(self.val):
            return f"{len(self.train)} windows for training, none held out for validation"
        held = (f"subjects {', '.join(map(str, self.val_subjects))}" if self.val_subjects is not None
                else "a stratified sample")
        return f"{len(self.train)} windows for training, {len(self.val)} for validation ({held})"


def validation_split(y: np.ndarray, subjects: np.ndarray | None, cfg: BILMConfig) -> Split:
    """Hold out cfg.val_subjects subjects chosen by cfg.seed, or cfg.val_fraction of the windows;
    nothing when cfg.val_subjects is 0. With cfg.train_subjects, train on only that many of the
    subjects left (for learning curves)."""
    if subjects is not None:
        return _subject_split(subjects, cfg.val_subjects, cfg.train_subjects, cfg.seed)
    if cfg.train_subjects:
        raise ValueError(f"train_subjects={cfg.train_subjects} needs subject ids, and the data has none")
    if cfg.val_subjects == 0:
        return Split(np.arange(len(y)), np.arange(0), ())
    try:
        train, val = train_test_split(np.arange(len(y)), test_size=cfg.val_fraction,
                                      stratify=y, random_state=cfg.seed)
    except ValueError as e:  # e.g. a class with a single window
        raise ValueError(f"cannot carve a stratified validation split: {e}") from None
    return Split(np.sort(train), np.sort(val), None)


def _subject_split(subjects: np.ndarray, n_val: int, n_train: int, seed: int) -> Split:
    unique = np.unique(subjects)
    if n_val >= len(unique):
        raise ValueError(f"val_subjects={n_val} but the training data has only {len(unique)} subjects; "
                         "at least one must stay for training")
    held = np.sort(np.random.default_rng(seed).choice(unique, size=n_val, replace=False))
    rest = unique[~np.isin(unique, held)]
    if n_train > len(rest):
        raise ValueError(f"train_subjects={n_train} but only {len(rest)} subjects are left after "
                         f"holding out val_subjects={n_val}")
    if n_train:  # a prefix of one permutation per seed: smaller sets are subsets of larger ones
        rest = np.random.default_rng([seed, 1]).permutation(rest)[:n_train]
    return Split(np.flatnonzero(np.isin(subjects, rest)), np.flatnonzero(np.isin(subjects, held)),
                 tuple(int(s) for s in held))
