"""Train one BILM run in this process: `fit(config, data, out)`.

    import bilm
    result = bilm.fit(bilm.get_preset("default"), "UCI HAR Dataset", "runs/best")
    print(result.report["test_accuracy"], result.run.path)

Training looks only at the training split: a validation part is held out from it (whole
subjects when the data has subject ids) and drives checkpoint selection (select_epoch="best";
"last" keeps the end of the schedule), early stopping and the learning-rate schedule; with
val_subjects=0 nothing is held out. The test split is read once, at the end, to score best.pt.
`python -m bilm.train` is this function's command line; under torchrun every process calls
it and only rank 0 writes. The run folder's files are described in `bilm.rundir`.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

import bilm
from bilm import checkpoint, cli, distributed, plots, sensors
from bilm.augment import Augment
from bilm.config import DATA_FIELDS, FIELD_NAMES, BILMConfig, get_preset
from bilm.data import HARData
from bilm.distributed import World
from bilm.inference import load_classifier
from bilm.kinematics import KinematicConstraintModule
from bilm.loop import (EpochTotals, Objective, Progress, autocast, derive_seed, epoch_order, evaluate,
                       pseudo_labels, recalibrate_batch_norm, steps_per_epoch, train_step)
from bilm.metrics import macro_f1
from bilm.ensemble import BILMEnsemble
from bilm.optim import EpochSchedule, build_optimizer
from bilm.preprocess import GravityFrame, Standardize
from bilm.rundir import RunDir
from bilm.scoring import report
from bilm.splits import validation_split

# How a run is carried out, beside its config; a resumed run keeps the ones it started with.
RUN_OPTIONS = ("checkpoint_every", "keep_epochs", "compile", "amp")


class NonFiniteLoss(cli.CommandError):
    pass


@dataclass(frozen=True)
class FitResult:
    report: dict[str, Any] | None  # report.json's content (None in processes other than rank 0)
    run: RunDir


def fit(config: BILMConfig | None = None, data: HARData | str | os.PathLike[str] | None = None,
        out: str | os.PathLike[str] | None = None, *, resume: bool = False, device: str = "auto",
        checkpoint_every: int | None = None, keep_epochs: bool | None = None, compile: bool | None = None,
        amp: bool | None = None, progress: bool = True, download: bool = True) -> FitResult:
    """Train one run into the folder `out` and score it on the test split.

    config: the run's settings (default: the default preset); the input shape and classes
    come from the data. data: a HARData, a UCI HAR folder or dataset .npz, or None for the
    downloaded UCI HAR copy (fetched if missing, unless download=False). out: the run folder
    (default: runs/<timestamp>). resume=True continues the run in `out` from its last.pt; a
    config or run option that differs from the stored one is refused by name, and None takes
    the stored one. checkpoint_every: also write last.pt every that many steps; keep_epochs:
    keep every epoch's weights as epoch-NNN.pt; compile: torch.compile the step; amp: bf16
    autocast on CUDA (default on). A problem with the settings raises cli.UsageError (a
    ValueError) before any work; a loss that turns NaN raises NonFiniteLoss.
    """
    world = distributed.world_from_env()
    run = RunDir(out if out is not None else Path("runs") / datetime.now().strftime("%Y%m%d-%H%M%S"))
    given = {"checkpoint_every": checkpoint_every, "keep_epochs": keep_epochs, "compile": compile, "amp": amp}
    resuming = resume and run.config.exists()
    cfg, options = (_stored(run, data) if resuming else _new(run, config, data, given, resume))
    options["device"] = device
    device_ = _train_device(device, world)
    if device_.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed shapes: pick the fastest convolutions once
    distributed.init(world, device_)
    try:
        loaded = data if isinstance(data, HARData) else cli.load_data(options["data"], download=download)
        if resuming:
            _check_unchanged(run, cfg, options, config, given, loaded)
        trainer = Trainer(cfg, options, loaded, run, world, device_)
        if resuming and run.last.exists():
            trainer.restore(checkpoint.load(run.last))
        trainer.start()
        trainer.train(show_progress=progress and world.is_main)
        return FitResult(trainer.report(), run)
    finally:
        distributed.close(world)


def _new(run: RunDir, config: BILMConfig | None, data: Any, given: dict[str, Any],
         resume: bool) -> tuple[BILMConfig, dict[str, Any]]:
    if run.holds_run():
        raise cli.UsageError(f"--out {run.path} already holds a run; add --resume to continue it "
                             "or choose another folder")
    if resume:
        print(f"{run.path} holds no run yet: starting it", flush=True)
    if (given["checkpoint_every"] or 0) < 0:
        raise cli.UsageError("--checkpoint-every must be >= 0")
    options = {"data": _data_source(data), "checkpoint_every": given["checkpoint_every"] or 0,
               "keep_epochs": bool(given["keep_epochs"]), "compile": bool(given["compile"]), "amp": given["amp"]}
    return config if config is not None else get_preset("default"), options


def _stored(run: RunDir, data: Any) -> tuple[BILMConfig, dict[str, Any]]:
    """The config and run options a run was started with."""
    saved = run.read_config()
    options = saved["run"]
    if data is not None:  # the same data, perhaps moved
        options["data"] = _data_source(data)
    return BILMConfig.from_dict(saved["config"]), options


def _check_unchanged(run: RunDir, stored: BILMConfig, options: dict[str, Any], config: BILMConfig | None,
                     given: dict[str, Any], data: HARData) -> None:
    """Refuse, by name, a config or run option that differs from the run's. The config is
    compared as the run used it, fitted to the data (so "from the channel names" matches)."""
    differ = [] if config is None else [f"{name}={now!r} (the run has {then!r})"
                                        for name, then, now in changed_settings(stored, config, data)]
    differ += [f"{name}={value!r} (the run has {options[name]!r})" for name, value in given.items()
               if value is not None and value != options[name]]
    if differ:
        raise cli.UsageError(f"--resume continues {run.path} as it was started, but {'; '.join(differ)}: "
                             "drop the differing settings, or start a new run in another folder")


def changed_settings(stored: BILMConfig, config: BILMConfig, data: HARData) -> list[tuple[str, Any, Any]]:
    """(field, the run's value, config's value) for each setting in which `config`, fitted to
    `data` as a run fits it (so "from the channel names" matches what a run found), differs
    from a run's stored config. The fields the data sets are not compared."""
    config = fit_to_data(config, data)
    return [(name, getattr(stored, name), getattr(config, name)) for name in FIELD_NAMES
            if name not in DATA_FIELDS and getattr(stored, name) != getattr(config, name)]


def refuse_other_settings(run: RunDir, config: BILMConfig, data: HARData) -> None:
    """Refuse (cli.CommandError) a folder holding a run with other settings than `config`: a
    study or a cross-validation would otherwise read it into its table unnoticed."""
    if not run.config.is_file():
        return
    differ = [f"{name} {then!r} there, {now!r} now"
              for name, then, now in changed_settings(BILMConfig.from_dict(run.read_config()["config"]), config, data)]
    if differ:
        raise cli.CommandError(f"{run.path} holds a run with other settings ({'; '.join(differ)}); "
                               "remove it or choose another --out")


def _data_source(data: HARData | str | os.PathLike[str] | None) -> str | None:
    """The data as config.json records it: an absolute path, so that evaluate and plot find it
    from any working directory; None for the downloaded UCI HAR copy."""
    if isinstance(data, HARData):
        return data.source
    if data is None:
        return None
    cli.check_data_path(str(data))
    return str(Path(data).expanduser().resolve())


def _train_device(spec: str, world: World) -> torch.device:
    device = cli.resolve_device(spec)
    if world.distributed and device.type == "cuda":
        return torch.device("cuda", world.local_rank)  # one GPU per process
    return device


def fit_to_data(cfg: BILMConfig, data: HARData, say: bool = False) -> BILMConfig:
    """Take the input shape, the number of classes and the sensors (bilm.sensors) from the data;
    `say` prints the line that tells when the gravity frame had to be turned off."""
    _, channels, length = data.X_train.shape
    cfg = dataclasses.replace(cfg, input_channels=channels, seq_length=length, num_classes=len(data.classes))
    try:
        cfg, note = sensors.configure(cfg, getattr(data, "channels", None), getattr(data, "sampling_rate", None))
    except ValueError as e:
        raise cli.UsageError(str(e)) from None
    if note and say:
        print(note, flush=True)
    return cfg


def to_device(array: np.ndarray, device: torch.device) -> torch.Tensor:
    """Copy once to the device; through pinned memory so a CUDA copy runs asynchronously."""
    tensor = torch.from_numpy(np.ascontiguousarray(array))
    if device.type == "cuda":
        tensor = tensor.pin_memory()
    return tensor.to(device, non_blocking=True)


class Trainer:
    """One run: its data on the device, the model and its optimiser, and where the loop stands."""

    def __init__(self, cfg: BILMConfig, options: dict[str, Any], data: HARData, run: RunDir,
                 world: World, device: torch.device):
        cfg = fit_to_data(cfg, data, say=world.is_main)
        self.cfg, self.options, self.data, self.run, self.world = cfg, options, data, run, world
        self._hold_out_validation(device)
        self.amp = autocast(device, options["amp"] is not False)  # bf16 on CUDA unless turned off
        torch.manual_seed(cfg.seed)
        self.model = BILMEnsemble.from_config(cfg).to(device)
        for member in self.model.members:  # a kinematic latent reads the sensors in raw units
            if isinstance(member.biomech_module, KinematicConstraintModule):
                member.biomech_module.set_input_scale(self.standardize.mean, self.standardize.std)
        self._fit_rocket()
        self.step_module = distributed.wrap(Objective(self.model, cfg), world, device)
        if options["compile"]:
            self.step_module = torch.compile(self.step_module)
        self.optimizer = build_optimizer(self.model.parameters(), cfg, device)
        self.schedule = EpochSchedule(self.optimizer, cfg)
        # Augmentation works on the data's own channels, before the gravity frame adds its own.
        self.augment = Augment(cfg, self.standardize.std[:, :cfg.input_channels],
                               seed=derive_seed(cfg.seed, world.rank, 1),
                               triples=sensors.vector_triples(getattr(data, "channels", None)))
        self.progress = Progress()
        self.totals = EpochTotals.zeros(device)
        self.pseudo: torch.Tensor | None = None  # the current epoch's pseudo-labels (see epoch_pseudo_labels)
        self.resumed_pseudo: torch.Tensor | None = None

    def _hold_out_validation(self, device: torch.device) -> None:
        """The training windows and the validation part held out of them, on the device,
        with the preprocessing fitted on the training part. The test split waits for the report."""
        data, cfg = self.data, self.cfg
        try:
            self.split = validation_split(data.y_train, data.subject_train, cfg)
        except ValueError as e:
            raise cli.UsageError(str(e)) from None
        self.X_train = to_device(data.X_train[self.split.train], device)
        y_train = data.y_train[self.split.train].copy()
        y_train[np.isin(self.split.train, self.split.unlabeled)] = -1  # label_subjects: trained without
        self.y_train = to_device(y_train, device)
        X_val, self.y_val = to_device(data.X_train[self.split.val], device), to_device(data.y_train[self.split.val], device)
        self.frame = GravityFrame.from_config(cfg).to(device)
        with torch.no_grad():
            framed = self.frame(self.X_train)
            self.standardize = Standardize.fit(framed, enabled=cfg.standardize)
            self.X_val = self.standardize(self.frame(X_val))  # once: validation windows are never augmented
            # For the batch norms and the pseudo-labeller, which read every clean window each epoch.
            keep_clean = cfg.recalibrate_bn or cfg.pseudo_label_threshold > 0
            self.X_clean = self.standardize(framed) if keep_clean else None
        if self.world.is_main:
            print(f"data: {data.source}: {self.split.describe()}; {len(data.y_test)} test windows held back",
                  flush=True)

    @torch.no_grad()
    def _fit_rocket(self) -> None:
        """Fit the MiniRocket bank, if the model has one, on the clean training windows, and
        compute the features of every fixed window once, as MiniRocket does: an augmented
        training window is classified with its clean window's features, so the bank costs one
        pass over the data instead of one per epoch."""
        self.rocket_train = self.rocket_val = None
        if self.model.members[0].rocket is None:
            return
        clean = self.X_clean if self.X_clean is not None else self.standardize(self.frame(self.X_train))
        first = self.model.members[0].rocket
        first.fit(clean)
        for member in self.model.members[1:]:  # the same bank from the same seed: the same biases
            member.rocket.load_state_dict(first.state_dict())
        self.rocket_train = self.model.rocket_features(clean)
        self.rocket_val = self.model.rocket_features(self.X_val)

    @torch.no_grad()
    def _fit_ridge(self) -> None:
        """Fit the ridge classifier, if the model has one and a resumed checkpoint did not hold
        it: its features are fixed, so it is fitted once, before the network trains."""
        ridge = self.model.ridge
        if ridge is None or ridge.fitted:
            return
        started = time.perf_counter()
        ridge.fit(self.rocket_train, self.y_train)
        if self.world.is_main:
            print(f"ridge classifier on {self.rocket_train.shape[1]} MiniRocket features: alpha {ridge.alpha.item():.3g}, "
                  f"fitted in {time.perf_counter() - started:.1f} s", flush=True)

    def restore(self, state: dict[str, Any]) -> None:
        """Continue from last.pt: weights, optimiser, schedule, RNGs and the place in the data."""
        self.model.load_state_dict(state["model"])
        resumed = state["train"]
        self.optimizer.load_state_dict(resumed["optimizer"])
        self.schedule.load_state_dict(resumed["schedule"])
        ranks = resumed["ranks"]  # each process's random streams, in rank order
        if len(ranks) != self.world.size:
            raise cli.UsageError(f"{self.run.last} was written by {len(ranks)} process(es); resume it with as "
                                 f"many (torchrun --nproc_per_node={len(ranks)}) to continue it exactly")
        checkpoint.restore_rng(ranks[self.world.rank]["rng"])
        self.augment.load_state_dict(ranks[self.world.rank]["augment"])
        self.progress = Progress(**resumed["progress"])
        if resumed.get("pseudo_labels") is not None:  # last.pt was written inside a self-training epoch
            self.resumed_pseudo = resumed["pseudo_labels"].to(self.y_train.device)
        if self.world.is_main:  # the partial sums of the epoch are rank 0's to carry
            self.totals = EpochTotals.from_state(resumed["totals"], self.totals.loss.device)
            print(f"resuming {self.run.path} at epoch {self.progress.epoch + 1}, step {self.progress.step}",
                  flush=True)

    def start(self) -> None:
        """Write config.json and bring metrics.jsonl back to the epochs the checkpoint knows."""
        if not self.world.is_main:
            return
        run, cfg, split = self.run, self.cfg, self.split
        run.path.mkdir(parents=True, exist_ok=True)
        run.remove_temporary_files()  # left by a run killed while writing a checkpoint
        run.write_json(run.config, {
            "config": cfg.to_dict(), "run": self.options, "classes": list(self.data.classes),
            "data": {"source": self.data.source, "train_windows": len(split.train), "val_windows": len(split.val),
                     "test_windows": len(self.data.y_test), "val_subjects": split.val_subjects},
            "environment": {"bilm": bilm.__version__, "torch": torch.__version__, "python": platform.python_version(),
                            "device": str(self.X_train.device), "world_size": self.world.size, "argv": sys.argv},
        })
        run.rewrite_metrics(self.progress.history)  # drops epochs logged after the checkpoint

    def train(self, show_progress: bool) -> None:
        self._fit_ridge()
        for epoch in range(self.progress.epoch, self.cfg.epochs):
            if self.progress.stopped:
                break
            self.train_epoch(epoch, show_progress)
        if self.progress.stopped and self.world.is_main:
            print(f"early stopping: no better validation macro-F1 for {self.cfg.early_stopping_patience} epochs",
                  flush=True)

    def train_epoch(self, epoch: int, show_progress: bool) -> None:
        cfg, world, every = self.cfg, self.world, self.options["checkpoint_every"]
        steps = steps_per_epoch(len(self.y_train), cfg.batch_size, world)
        order = epoch_order(len(self.y_train), cfg.seed, epoch).to(self.X_train.device, non_blocking=True)
        self.pseudo = self.epoch_pseudo_labels(epoch)
        self.step_module.train()
        start = time.perf_counter()
        # A bar only on a terminal: a log file gets the one line per epoch below instead.
        bar = tqdm(range(self.progress.step, steps), initial=self.progress.step, total=steps, unit="step",
                   leave=False, desc=f"epoch {epoch + 1}/{cfg.epochs}", dynamic_ncols=True,
                   disable=not (show_progress and sys.stderr.isatty()))
        for step in bar:
            idx = distributed.shard(order[step * cfg.batch_size:(step + 1) * cfg.batch_size], world)
            x, y = self.X_train[idx], self.y_train[idx]
            x = self.standardize(self.frame(self.augment(x) if self.augment.enabled else x))
            rocket = None if self.rocket_train is None else self.rocket_train[idx]
            pseudo = None if self.pseudo is None else self.pseudo[idx]
            loss, logits = train_step(self.step_module, self.model, self.optimizer, x, y, cfg, self.amp, rocket, pseudo)
            self.totals.add(step, loss, logits, y)
            if every and (step + 1) % every == 0 and step + 1 < steps:
                sums = self.totals.reduced(world)
                self.check_finite(sums, epoch)
                self.totals.seconds += time.perf_counter() - start
                self.save_last(step + 1, dataclasses.replace(sums, seconds=self.totals.seconds))
                start = time.perf_counter()
        bar.close()
        if cfg.recalibrate_bn and self.evaluates(epoch):  # part of making the epoch's model
            recalibrate_batch_norm(self.model, self.X_clean, self.amp, self.rocket_train)
        sums = self.totals.reduced(world)
        self.check_finite(sums, epoch)  # reading the sums waits for the device: the time below is the real one
        self.totals.seconds += time.perf_counter() - start
        self.finish_epoch(epoch, sums)

    def epoch_pseudo_labels(self, epoch: int) -> torch.Tensor | None:
        """With pseudo_label_threshold, from the second epoch on, the classes that the model at
        the end of the epoch before is sure of for the unlabeled windows (a run resumed inside
        the epoch reads them from last.pt); None otherwise."""
        if not self.cfg.pseudo_label_threshold or epoch == 0:
            return None
        if self.resumed_pseudo is not None:
            pseudo, self.resumed_pseudo = self.resumed_pseudo, None
            return pseudo
        return pseudo_labels(self.model, self.X_clean, self.y_train, self.cfg.pseudo_label_threshold, self.amp,
                             self.rocket_train)

    def finish_epoch(self, epoch: int, sums: EpochTotals) -> None:
        """Validate, log, and write best.pt (if this epoch is kept) and last.pt."""
        cfg = self.cfg
        distributed.sync_buffers(self.model, self.world)
        row = {"epoch": epoch + 1, "train_loss": float(sums.loss / sums.count),
               "train_accuracy": float(sums.accuracy), "lr": self.schedule.lr,
               "train_seconds": self.totals.seconds}
        if self.cfg.pseudo_label_threshold:
            row["pseudo_labels"] = 0 if self.pseudo is None else int((self.pseudo >= 0).sum())
        if len(self.y_val):
            row |= self.validate()
        improved = self.progress.finish_epoch(row, cfg.early_stopping_patience)
        keep = improved if cfg.select_epoch == "best" else self.evaluates(epoch)  # best.pt: what the run reports
        self.schedule.step(row.get("val_loss"))
        self.totals = EpochTotals.zeros(self.totals.loss.device)
        if self.world.is_main:
            self.run.append_metrics(row)
            chosen = {**self.weights(), "epoch": row["epoch"], "val": row}
            if keep:
                checkpoint.save(chosen, self.run.best)
            if self.options["keep_epochs"]:
                checkpoint.save(chosen, self.run.epoch_checkpoint(row["epoch"]))
            print(log_line(row, cfg.epochs, improved, keep), flush=True)
        self.save_last(0, self.totals)

    def evaluates(self, epoch: int) -> bool:
        """Whether this epoch's model is scored or kept: on validation, as an epoch checkpoint,
        as the end of the schedule, or as the next epoch's pseudo-labeller. Only such an epoch
        needs its batch norms recalibrated:
        the pass draws no random numbers and training reads no running statistics, so skipping
        it elsewhere changes nothing but the time (a refit's 14 of 15 passes over its windows)."""
        return (len(self.y_val) > 0 or self.options["keep_epochs"] or epoch + 1 == self.cfg.epochs
                or self.cfg.pseudo_label_threshold > 0)

    def validate(self) -> dict[str, float]:
        """An epoch's validation metrics, as metrics.jsonl keeps them."""
        start = time.perf_counter()
        val = evaluate(Objective(self.model, self.cfg), self.X_val, self.y_val, self.amp, self.rocket_val)
        predicted = val.logits.argmax(dim=1).numpy()
        truth = self.data.y_train[self.split.val]
        return {"val_loss": val.loss, "val_accuracy": float(np.mean(predicted == truth)),
                "val_macro_f1": macro_f1(truth, predicted, self.cfg.num_classes),
                "val_seconds": time.perf_counter() - start}

    def weights(self) -> dict[str, Any]:
        return {"config": self.cfg.to_dict(), "classes": list(self.data.classes),
                "standardize": self.standardize.state_dict(), "model": self.model.state_dict()}

    def check_finite(self, sums: EpochTotals, epoch: int) -> None:
        """Stop before a non-finite loss reaches a checkpoint; last.pt keeps the last good state."""
        if sums.first_bad_step >= 0:
            kept = (f"{self.run.last} keeps the last good state ({self.progress.epoch} epochs and "
                    f"{self.progress.step} steps)" if self.run.last.exists() else "no checkpoint had been written yet")
            raise NonFiniteLoss(f"the training loss became NaN or infinite at epoch {epoch + 1}, "
                                f"step {int(sums.first_bad_step) + 1}; stopped. {kept}. "
                                "Try a lower --lr or a stronger grad_clip.")

    def save_last(self, step: int, sums: EpochTotals) -> None:
        """last.pt at a step boundary (step > 0: inside the epoch, with its running sums; 0: after it)."""
        self.progress.step = step
        # Every rank draws its own dropout masks and augmentations: all their states are kept.
        ranks = distributed.gather_to_main({"rng": checkpoint.capture_rng(), "augment": self.augment.state_dict()},
                                           self.world)
        if self.world.is_main:
            checkpoint.save({**self.weights(), "epoch": self.progress.epoch, "train": {
                "optimizer": self.optimizer.state_dict(), "schedule": self.schedule.state_dict(), "ranks": ranks,
                "progress": self.progress.state_dict(), "totals": sums.state_dict(),
                "pseudo_labels": self.pseudo.cpu() if step and self.pseudo is not None else None,
            }}, self.run.last)

    def report(self) -> dict[str, Any] | None:
        """best.pt scored once on the test split: report.json, curves.png and confusion.png."""
        distributed.barrier(self.world)
        if not self.world.is_main:
            return None
        run = self.run
        result = report(load_classifier(run.best, self.X_train.device), self.data.X_test, self.data.y_test)
        run.write_json(run.report, result)
        plots.plot_curves(self.progress.history, run.curves)
        plots.plot_confusion(result["confusion_matrix"], result["classes"], run.confusion)
        print(f"best epoch {result['best_epoch']}: test accuracy {100 * result['test_accuracy']:.2f}%, "
              f"macro-F1 {result['test_macro_f1']:.4f}; run folder {run.path}", flush=True)
        return result


def log_line(row: dict[str, Any], epochs: int, best: bool, kept: bool) -> str:
    val = (f"val loss {row['val_loss']:.4f} acc {100 * row['val_accuracy']:5.1f}% F1 {row['val_macro_f1']:.4f}"
           if "val_loss" in row else "no validation")
    return (f"epoch {row['epoch']:>3}/{epochs} | train loss {row['train_loss']:.4f} "
            f"acc {100 * row['train_accuracy']:5.1f}% | {val} | "
            f"lr {row['lr']:.2e} | {row['train_seconds']:.1f} s" + ("  *best" if best else "")
            + ("  (kept)" if kept and not best else ""))
