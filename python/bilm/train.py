"""Train a BILM classifier and write a run folder: the command line of `bilm.fit`.

    python -m bilm.train                                     # the default preset on UCI HAR
    python -m bilm.train --preset seed                       # the notebook's network and loss
    python -m bilm.train --data my.npz --epochs 10 --set latent_dim=32 --out runs/small
    python -m bilm.train --data my.npz --epochs 10 --set latent_dim=32 --out runs/small --resume
    torchrun --nproc_per_node=2 -m bilm.train ...            # data-parallel (only rank 0 writes)

--resume continues a stopped or killed run: the command that started it with --resume added,
or just --out and --resume. The run folder holds config.json, metrics.jsonl, last.pt, best.pt,
report.json, curves.png and confusion.png.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from bilm import cli
from bilm.config import PRESETS, BILMConfig, apply_overrides, get_preset, load_toml
from bilm.training import fit

PROG = "bilm-train"
# The options that set the config; with --resume, none of them means "as stored".
CONFIG_OPTIONS = ("preset", "config", "overrides", "epochs", "batch_size", "lr", "seed")


def preset_values(field: str) -> str:
    """Each preset's value of `field`, for the help text: "seed, notebook: 30; default: 10"."""
    names: dict[object, list[str]] = {}
    for name, preset in PRESETS.items():
        names.setdefault(getattr(preset, field), []).append(name)
    return "; ".join(f"{', '.join(group)}: {value:g}" for value, group in names.items())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    data = parser.add_argument_group("data")
    data.add_argument("--data", metavar="PATH",
                      help="a UCI HAR folder, or an .npz with X_train, y_train, X_test, y_test (optionally "
                           "subject_train, subject_test, classes). Default: the cached or downloaded UCI HAR")
    data.add_argument("--no-download", dest="download", action="store_false",
                      help="without --data, fail instead of downloading UCI HAR")
    config = parser.add_argument_group("configuration (docs/options.md describes every field)")
    config.add_argument("--preset", choices=tuple(PRESETS),
                        help="default = the best model (the default); seed = the notebook's network and loss; "
                             "notebook = that and the notebook's protocol; kinematic = default with the "
                             "kinematic latent (docs/physics.md)")
    config.add_argument("--config", metavar="FILE", help="a TOML file of field = value, or a run's config.json")
    config.add_argument("--set", dest="overrides", action="append", metavar="FIELD=VALUE",
                        help="override any config field, e.g. --set latent_dim=32 (repeatable)")
    config.add_argument("--epochs", type=int, help=f"epochs to train ({preset_values('epochs')})")
    config.add_argument("--batch-size", type=int,
                        help=f"windows per step, over all processes ({preset_values('batch_size')})")
    config.add_argument("--lr", type=float, help=f"peak learning rate ({preset_values('lr')})")
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
    run.add_argument("--no-progress", dest="progress", action="store_false",
                     help="no progress bar (there is none unless stderr is a terminal)")
    return parser


def make_config(args: argparse.Namespace) -> BILMConfig | None:
    """preset, then --config, then --set, then the explicit flags; None when resuming without them."""
    if args.resume and all(getattr(args, name) is None for name in CONFIG_OPTIONS):
        return None
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


def train(args: argparse.Namespace) -> int:
    if args.resume and not args.out:
        raise cli.UsageError("--resume needs --out RUN_DIR, the run to continue")
    try:
        cfg = make_config(args)
    except (ValueError, FileNotFoundError) as e:
        raise cli.UsageError(str(e)) from None
    cli.check_data_path(args.data)
    fit(cfg, args.data, args.out, resume=args.resume, device=args.device, checkpoint_every=args.checkpoint_every,
        keep_epochs=args.keep_epochs, compile=args.compile, amp=args.amp, progress=args.progress,
        download=args.download)
    return 0


def main(argv: list[str] | None = None) -> int:
    return cli.run(PROG, build_parser(), train, argv)


if __name__ == "__main__":
    sys.exit(main())
