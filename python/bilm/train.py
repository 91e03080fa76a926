"""Train a BILM classifier and write a run folder.

    python -m bilm.train                                     # the best model on UCI HAR
    python -m bilm.train --preset seed                       # the seed notebook, exactly
    python -m bilm.train --data my.npz --epochs 10 --set latent_dim=32 --out runs/small
    python -m bilm.train --out runs/small --resume           # continue a stopped or killed run
    torchrun --nproc_per_node=2 -m bilm.train ...            # data-parallel (only rank 0 writes)

Training looks only at the training split: a validation part is held out from it (whole
subjects when the data has subject ids) and drives checkpoint selection (select_epoch="best";
"last" keeps the end of the schedule), early stopping and the learning-rate schedule; with
val_subjects=0 (the default preset) nothing is held out and the last epoch is kept. The
test split is read once, at the end, to score best.pt, the weights the run keeps.
The run folder holds config.json, metrics.jsonl, last.pt, best.pt, report.json, curves.png
and confusion.png.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import platform
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

import bilm
from bilm import checkpoint, cli, distributed, plots
from bilm.augment import Augment
from bilm.config import PRESETS, BILMConfig, apply_overrides, get_preset, load_toml
from bilm.data import HARData
from bilm.distributed import World
from bilm.evaluate import report
from bilm.inference import load_classifier
from bilm.loop import (EpochTotals, Objective, Progress, autocast, derive_seed, epoch_order, evaluate,
                       recalibrate_batch_norm, steps_per_epoch, train_step)
from bilm.metrics import macro_f1
from bilm.model import BILMEnsemble
from bilm.optim import EpochSchedule, build_optimizer
from bilm.preprocess import GravityFrame, Standardize
from bilm.rundir import RunDir
from bilm.splits import validation_split

PROG = "bilm-train"
# Options that define the run; --resume takes them from the run folder instead.
CONFIG_OPTIONS = {"preset": "--preset", "config": "--config", "overrides": "--set", "epochs": "--epochs",
                  "batch_size": "--batch-size", "lr": "--lr", "seed": "--seed",
                  "checkpoint_every": "--checkpoint-every", "keep_epochs": "--keep-epochs", "compile": "--compile",
                  "amp": "--amp"}


class NonFiniteLoss(cli.CommandError):
    pass


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    data = parser.add_argument_group("data")
    data.add_argument("--data", metavar="PATH",
                      help="a UCI HAR folder, or an .npz with X_train, y_train, X_test, y_test (optionally "
                           "subject_train, subject_test, classes). Default: the cached or downloaded UCI HAR")
    data.add_argument("--no-download", dest="download", action="store_false",
                      help="without --data, fail instead of downloading UCI HAR")
    config = parser.add_argument_group("configuration (see bilm/config.py for every field)")
    config.add_argument("--preset", choices=tuple(PRESETS),
                        help="default = the best model (the default); seed = the notebook's network and loss; "
                             "notebook = that and the notebook's protocol")
    config.add_argument("--config", metavar="FILE", help="a TOML file of field = value, or a run's config.json")
    config.add_argument("--set", dest="overrides", action="append", metavar="FIELD=VALUE",
                        help="override any config field, e.g. --set latent_dim=32 (repeatable)")
    config.add_argument("--epochs", type=int, help="epochs to train (seed preset: 30, default: 15)")
    config.add_argument("--batch-size", type=int, help="windows per step, over all processes (presets: 64)")
    config.add_argument("--lr", type=float, help="peak learning rate (presets: 1e-3)")
    config.add_argument("--seed", type=int, help="seeds the weights, the validation subjects and the data order")
    run = parser.add_argument_group("run")
    run.add_argument("--out", metavar="RUN_DIR", help="the run folder (default: runs/<timestamp>)")
    run.add_argument("--resume", action="store_true", help="continue the run in --out from its last.pt")
    run.add_argument("--device", default="auto", help=cli.DEVICE_HELP)
    run.add_argument("--checkpoint-every", type=int, metavar="STEPS",
                     help="also write last.pt every STEPS steps (default: 0, at the end of each epoch only)")
    run.add_argument("--keep-epochs", action="store_true", default=None,
                     help="also keep every epoch's weights, as epoch-NNN.pt (for snapshot studies)")
    run.add_argument("--compile", action="store_true", default=None, help="torch.compile the training step")
    run.add_argument("--amp", action=argparse.BooleanOptionalAction,
                     help="bf16 autocast on CUDA (default: on with CUDA; CPU always trains in float32)")
    run.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    return parser


def make_config(args: argparse.Namespace) -> BILMConfig:
    """preset, then --config, then --set, then the explicit flags."""
    cfg = get_preset(args.preset or "default")
    if args.config:
        cfg = load_config_file(Path(args.config), cfg)
    cfg = apply_overrides(cfg, args.overrides or [])
    flags = {"epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr, "seed": args.seed}
    return dataclasses.replace(cfg, **{name: v for name, v in flags.items() if v is not None})


def load_config_file(path: Path, base: BILMConfig) -> BILMConfig:
    if path.suffix != ".json":
        return load_toml(path, base)
    try:
        return BILMConfig.from_dict(json.loads(path.read_text())["config"])
    except (OSError, KeyError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: not a run's config.json ({e})") from None


def resolve_run(args: argparse.Namespace) -> tuple[BILMConfig, dict[str, Any], RunDir]:
    """The config, the run options and the run folder; any problem is a UsageError (exit 2)."""
    try:
        if args.resume:
            return resume_run(args)
        cfg = make_config(args)
    except (ValueError, FileNotFoundError) as e:
        raise cli.UsageError(str(e)) from None
    if args.checkpoint_every is not None and args.checkpoint_every < 0:
        raise cli.UsageError("--checkpoint-every must be >= 0")
    cli.check_data_path(args.data)
    run = RunDir(args.out or Path("runs") / datetime.now().strftime("%Y%m%d-%H%M%S"))
    if run.holds_run():
        raise cli.UsageError(f"--out {run.path} already holds a run; add --resume to continue it "
                             "or choose another folder")
    options = {"data": absolute(args.data), "device": args.device, "checkpoint_every": args.checkpoint_every or 0,
               "keep_epochs": bool(args.keep_epochs), "compile": bool(args.compile), "amp": args.amp}
    return cfg, options, run


def resume_run(args: argparse.Namespace) -> tuple[BILMConfig, dict[str, Any], RunDir]:
    if not args.out:
        raise cli.UsageError("--resume needs --out RUN_DIR, the run to continue")
    given = [flag for name, flag in CONFIG_OPTIONS.items() if getattr(args, name) is not None]
    if given:
        raise cli.UsageError(f"--resume continues the run with its own config; drop {', '.join(given)}")
    run = RunDir(args.out)
    saved = run.read_config()
    options = saved["run"]
    if args.data is not None:  # the same data, moved
        cli.check_data_path(args.data)
        options["data"] = absolute(args.data)
    options["device"] = args.device
    return BILMConfig.from_dict(saved["config"]), options, run


def absolute(path: str | None) -> str | None:
    """The data path as stored in config.json: absolute, so that evaluate and plot find the
    data from any working directory."""
    return None if path is None else str(Path(path).expanduser().resolve())


def fit_to_data(cfg: BILMConfig, data: HARData) -> BILMConfig:
    """Take the input shape and the number of classes from the data."""
    _, channels, length = data.X_train.shape
    return dataclasses.replace(cfg, input_channels=channels, seq_length=length, num_classes=len(data.classes))


def train_device(spec: str, world: World) -> torch.device:
    device = cli.resolve_device(spec)
    if world.distributed and device.type == "cuda":
        return torch.device("cuda", world.local_rank)  # one GPU per process
    return device


def to_device(array: np.ndarray, device: torch.device) -> torch.Tensor:
    """Copy once to the device; through pinned memory so a CUDA copy runs asynchronously."""
    tensor = torch.from_numpy(np.ascontiguousarray(array))
    if device.type == "cuda":
        tensor = tensor.pin_memory()
    return tensor.to(device, non_blocking=True)


def validate(objective: Objective, X: torch.Tensor, y: torch.Tensor, y_np: np.ndarray, num_classes: int,
             amp: contextlib.AbstractContextManager) -> dict[str, float]:
    """An epoch's validation metrics, as metrics.jsonl keeps them."""
    start = time.perf_counter()
    val = evaluate(objective, X, y, amp)
    predicted = val.logits.argmax(dim=1).numpy()
    return {"val_loss": val.loss, "val_accuracy": float(np.mean(predicted == y_np)),
            "val_macro_f1": macro_f1(y_np, predicted, num_classes), "val_seconds": time.perf_counter() - start}


def log_line(row: dict[str, Any], epochs: int, best: bool, kept: bool) -> str:
    val = (f"val loss {row['val_loss']:.4f} acc {100 * row['val_accuracy']:5.1f}% F1 {row['val_macro_f1']:.4f}"
           if "val_loss" in row else "no validation")
    return (f"epoch {row['epoch']:>3}/{epochs} | train loss {row['train_loss']:.4f} "
            f"acc {100 * row['train_accuracy']:5.1f}% | {val} | "
            f"lr {row['lr']:.2e} | {row['train_seconds']:.1f} s" + ("  *best" if best else "")
            + ("  (kept)" if kept and not best else ""))


def main(argv: list[str] | None = None) -> int:
    return cli.run(PROG, build_parser(), train, argv)


def train(args: argparse.Namespace) -> int:
    # -------------------------------------------------------------------------------------------
    # The run: config and options, all checked before any work (exit code 2 on a problem).
    world = distributed.world_from_env()
    cfg, options, run = resolve_run(args)
    device = train_device(options["device"], world)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed shapes: pick the fastest convolutions once
    distributed.init(world, device)
    try:
        return train_in_group(args, cfg, options, run, world, device)
    finally:
        distributed.close(world)


def train_in_group(args: argparse.Namespace, cfg: BILMConfig, options: dict[str, Any], run: RunDir,
                   world: World, device: torch.device) -> int:
    # -------------------------------------------------------------------------------------------
    # Data: the training split, of which a validation part is held out. The test split is not
    # touched until the report.
    data = cli.load_data(options["data"], download=args.download)
    cfg = fit_to_data(cfg, data)
    try:
        split = validation_split(data.y_train, data.subject_train, cfg)
    except ValueError as e:
        raise cli.UsageError(str(e)) from None
    X_train, y_train = to_device(data.X_train[split.train], device), to_device(data.y_train[split.train], device)
    X_val, y_val = to_device(data.X_train[split.val], device), to_device(data.y_train[split.val], device)
    y_val_np = data.y_train[split.val]  # for the metrics, on the host
    frame = GravityFrame.from_config(cfg).to(device)
    with torch.no_grad():
        framed = frame(X_train)
        standardize = Standardize.fit(framed, enabled=cfg.standardize)
        X_val = standardize(frame(X_val))  # once: validation windows are never augmented
        X_clean = standardize(framed) if cfg.recalibrate_bn else None  # for the batch norms
        del framed  # with the gravity frame on, a copy of the training set the loop does not need
    if world.is_main:
        print(f"data: {data.source}: {split.describe()}; {len(data.y_test)} test windows held back", flush=True)

    # -------------------------------------------------------------------------------------------
    # Model, objective, optimiser, schedule and augmentation, seeded.
    amp = autocast(device, options["amp"] is not False)  # bf16 on CUDA unless --no-amp
    torch.manual_seed(cfg.seed)
    model = BILMEnsemble.from_config(cfg).to(device)
    objective = Objective(model, cfg)
    step_module = distributed.wrap(objective, world, device)
    if options["compile"]:
        step_module = torch.compile(step_module)
    optimizer = build_optimizer(model.parameters(), cfg, device)
    schedule = EpochSchedule(optimizer, cfg)
    # Augmentation works on the data's own channels, before the gravity frame adds its own.
    augment = Augment(cfg, standardize.std[:, :cfg.input_channels], seed=derive_seed(cfg.seed, world.rank, 1))
    progress = Progress()
    totals = EpochTotals.zeros(device)

    # -------------------------------------------------------------------------------------------
    # Start, or resume from last.pt: weights, optimiser, schedule, RNGs and the place in the data.
    if args.resume and run.last.exists():
        state = checkpoint.load(run.last)
        model.load_state_dict(state["model"])
        resumed = state["train"]
        optimizer.load_state_dict(resumed["optimizer"])
        schedule.load_state_dict(resumed["schedule"])
        ranks = resumed["ranks"]  # each process's random streams, in rank order
        if len(ranks) != world.size:
            raise cli.UsageError(f"{run.last} was written by {len(ranks)} process(es); resume it with as "
                                 f"many (torchrun --nproc_per_node={len(ranks)}) to continue it exactly")
        checkpoint.restore_rng(ranks[world.rank]["rng"])
        augment.load_state_dict(ranks[world.rank]["augment"])
        progress = Progress(**resumed["progress"])
        if world.is_main:  # the partial sums of the epoch are rank 0's to carry
            totals = EpochTotals.from_state(resumed["totals"], device)
            print(f"resuming {run.path} at epoch {progress.epoch + 1}, step {progress.step}", flush=True)
    if world.is_main:
        run.path.mkdir(parents=True, exist_ok=True)
        run.write_json(run.config, {
            "config": cfg.to_dict(), "run": options, "classes": list(data.classes),
            "data": {"source": data.source, "train_windows": len(split.train), "val_windows": len(split.val),
                     "test_windows": len(data.y_test), "val_subjects": split.val_subjects},
            "environment": {"bilm": bilm.__version__, "torch": torch.__version__, "python": platform.python_version(),
                            "device": str(device), "world_size": world.size, "argv": sys.argv},
        })
        run.rewrite_metrics(progress.history)  # drops epochs logged after the checkpoint

    def weights(network: torch.nn.Module) -> dict[str, Any]:
        return {"config": cfg.to_dict(), "classes": list(data.classes), "standardize": standardize.state_dict(),
                "model": network.state_dict()}

    def check_finite(sums: EpochTotals) -> None:
        """Stop before a non-finite loss reaches a checkpoint; last.pt keeps the last good state."""
        if sums.first_bad_step >= 0:
            kept = (f"{run.last} keeps the last good state ({progress.epoch} epochs and {progress.step} steps)"
                    if run.last.exists() else "no checkpoint had been written yet")
            raise NonFiniteLoss(f"the training loss became NaN or infinite at epoch {epoch + 1}, "
                                f"step {int(sums.first_bad_step) + 1}; stopped. {kept}. "
                                "Try a lower --lr or a stronger grad_clip.")

    def save_last(step: int, sums: EpochTotals) -> None:
        """last.pt at a step boundary (step > 0: inside the epoch, with its running sums; 0: after it)."""
        progress.step = step
        # Every rank draws its own dropout masks and augmentations: all their states are kept.
        ranks = distributed.gather_to_main({"rng": checkpoint.capture_rng(), "augment": augment.state_dict()}, world)
        if world.is_main:
            checkpoint.save({**weights(model), "epoch": progress.epoch, "train": {
                "optimizer": optimizer.state_dict(), "schedule": schedule.state_dict(), "ranks": ranks,
                "progress": progress.state_dict(), "totals": sums.state_dict(),
            }}, run.last)

    # -------------------------------------------------------------------------------------------
    # The loop. Each epoch: train on the training part, validate (unless nothing is held out), keep
    # the best on validation or the last.
    steps = steps_per_epoch(len(y_train), cfg.batch_size, world)
    show_progress = args.progress and world.is_main
    for epoch in range(progress.epoch, cfg.epochs):
        if progress.stopped:
            break
        order = epoch_order(len(y_train), cfg.seed, epoch).to(device, non_blocking=True)
        step_module.train()
        start = time.perf_counter()
        bar = tqdm(range(progress.step, steps), initial=progress.step, total=steps, unit="step", leave=False,
                   desc=f"epoch {epoch + 1}/{cfg.epochs}", disable=not show_progress, dynamic_ncols=True)
        for step in bar:
            idx = distributed.shard(order[step * cfg.batch_size:(step + 1) * cfg.batch_size], world)
            x, y = X_train[idx], y_train[idx]
            x = standardize(frame(augment(x) if augment.enabled else x))
            loss, logits = train_step(step_module, model, optimizer, x, y, cfg, amp)
            totals.add(step, loss, logits, y)
            if options["checkpoint_every"] and (step + 1) % options["checkpoint_every"] == 0 and step + 1 < steps:
                sums = totals.reduced(world)
                check_finite(sums)
                totals.seconds += time.perf_counter() - start
                save_last(step + 1, dataclasses.replace(sums, seconds=totals.seconds))
                start = time.perf_counter()
        bar.close()
        kept_model = model
        if X_clean is not None:  # part of making the epoch's model, so timed with its training
            recalibrate_batch_norm(kept_model, X_clean, amp)
        sums = totals.reduced(world)
        check_finite(sums)  # reading the sums waits for the device: the time below is the real one
        totals.seconds += time.perf_counter() - start

        distributed.sync_buffers(model, world)
        row = {"epoch": epoch + 1, "train_loss": float(sums.loss / sums.count),
               "train_accuracy": float(sums.correct / sums.count), "lr": schedule.lr,
               "train_seconds": totals.seconds}
        if len(y_val):
            row |= validate(Objective(kept_model, cfg), X_val, y_val, y_val_np, cfg.num_classes, amp)
        improved = progress.finish_epoch(row, cfg.early_stopping_patience)
        keep = improved if cfg.select_epoch == "best" else True  # best.pt: the weights the run reports
        schedule.step(row.get("val_loss"))
        totals = EpochTotals.zeros(device)
        if world.is_main:
            run.append_metrics(row)
            chosen = {**weights(kept_model), "epoch": row["epoch"], "val": row}
            if keep:
                checkpoint.save(chosen, run.best)
            if options["keep_epochs"]:
                checkpoint.save(chosen, run.epoch_checkpoint(row["epoch"]))
            print(log_line(row, cfg.epochs, improved, keep), flush=True)
        save_last(0, totals)
    if progress.stopped and world.is_main:
        print(f"early stopping: no better validation macro-F1 for {cfg.early_stopping_patience} epochs", flush=True)

    # -------------------------------------------------------------------------------------------
    # The report: best.pt scored once on the test split.
    distributed.barrier(world)
    if not world.is_main:
        return 0
    result = report(load_classifier(run.best, device), data.X_test, data.y_test)
    run.write_json(run.report, result)
    plots.plot_curves(progress.history, run.curves)
    plots.plot_confusion(result["confusion_matrix"], result["classes"], run.confusion)
    print(f"best epoch {result['best_epoch']}: test accuracy {100 * result['test_accuracy']:.2f}%, "
          f"macro-F1 {result['test_macro_f1']:.4f}; run folder {run.path}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
