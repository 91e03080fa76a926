"""MiniRocket's ridge classifier beside the networks of a finished `python -m bilm.cv`, scored
without training anything again: what chose `rocket_ridge` and its temperature.

    python -m studies.cv_ridge runs/cv-motionsense-kinematic --out runs/ms-ridge.md

CV_DIR is a finished bilm.cv folder whose networks have MiniRocket's features
(`rocket_features`) and held out validation subjects. For each fold, the ridge classifier of
`bilm.ridge` is fitted on the features the fold's network computes from its training windows
(every subject but the fold's validation and test subjects, as the network trained on), and
the fold's validation and test subjects are scored (macro-F1 over every class, as a run's
validation is) with the network alone, the ridge alone, and the mean of the two models'
probabilities, the ridge's taken as softmax(T * scores) for each --temperatures T. The
windows are bilm.cv's (`load_windows` of the folder's dataset); `--root` is the dataset's
folder, as for bilm.cv. The tables are cv_compare's: the first
column (the network alone) is the baseline, and the choice is made on the validation table.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from bilm import cli
from bilm.cv import PLAN, fold_dir, load_windows
from bilm.ensemble import mean_log_probabilities
from bilm.inference import LoadedClassifier, load_classifier
from bilm.metrics import macro_f1
from bilm.ridge import RidgeHead, mix
from studies.cv_compare import table


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m studies.cv_ridge", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", metavar="CV_DIR", help="a finished bilm.cv folder with MiniRocket's features")
    parser.add_argument("--root", metavar="PATH", help="the dataset's folder (default: the downloaded copy)")
    parser.add_argument("--temperatures", type=float, nargs="+", default=[1.0, 3.0, 10.0], metavar="T")
    parser.add_argument("--out", metavar="FILE", help="also write the tables here")
    return parser


@torch.inference_mode()
def inputs_and_features(classifier: LoadedClassifier, X: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Raw windows X as the classifier's networks read them, and their MiniRocket features."""
    x = classifier.module.model_input(torch.as_tensor(X))
    return x, classifier.module.model.rocket_features(x)


@torch.inference_mode()
def network_log_probabilities(classifier: LoadedClassifier, x: torch.Tensor, rocket: torch.Tensor) -> torch.Tensor:
    """The networks' own prediction, without any ridge classifier the run carries."""
    return mean_log_probabilities([out.logits for out in classifier.module.model.forward_all(x, rocket)])


def fold_scores(folder: Path, number: int, test: list[int], data, temperatures: list[float]) -> dict[str, list[float]]:
    """{"validation" | "test": [network, ridge, mix at each temperature]} of one fold."""
    run = fold_dir(folder, number)
    validation = json.loads((run / "config.json").read_text())["config"]["val_subject_ids"]
    if not validation:
        raise cli.UsageError(f"{run} held out no validation subjects: there is nothing to choose on")
    classifier = load_classifier(run / "best.pt")
    if classifier.module.model.members[0].rocket is None:
        raise cli.UsageError(f"{run} has no MiniRocket features (rocket_features=0): the ridge reads them")
    train = ~np.isin(data.subjects, [*test, *validation])
    ridge = RidgeHead(classifier.module.model.members[0].rocket.num_features, len(data.classes))
    ridge.fit(inputs_and_features(classifier, data.X[train])[1], torch.as_tensor(data.y[train]))
    scores = {}
    for part, subjects in (("validation", validation), ("test", test)):
        held = np.isin(data.subjects, subjects)
        x, rocket = inputs_and_features(classifier, data.X[held])
        network = network_log_probabilities(classifier, x, rocket)
        mixes = [mix(network, ridge.log_probabilities(rocket, t)) for t in temperatures]
        scores[part] = [macro_f1(data.y[held], p.argmax(1).numpy(), len(data.classes))
                        for p in (network, ridge(rocket), *mixes)]
    return scores


def study(args: argparse.Namespace) -> int:
    folder = Path(args.folder)
    if not (folder / PLAN).is_file():
        raise cli.UsageError(f"{folder}: no {PLAN} (not a bilm.cv folder)")
    plan = json.loads((folder / PLAN).read_text())
    name = plan["dataset"]["name"]
    windows = argparse.Namespace(dataset=name, root=args.root, data=None if name else plan["dataset"]["source"])
    data = load_windows(windows)
    folds = [fold_scores(folder, k, test, data, args.temperatures)
             for k, test in enumerate(plan["test_subjects"], start=1)]
    names = ["network", "ridge", *(f"mean, T={t:g}" for t in args.temperatures)]
    lines = []
    for part in ("validation", "test"):
        columns = [list(column) for column in zip(*(fold[part] for fold in folds))]
        lines += [f"Macro-F1 on each fold's {part} subjects:", "", *table(names, columns), ""]
    text = "\n".join(lines)
    print(text, end="")
    if args.out:
        Path(args.out).write_text(text)
    return 0


def main(argv: list[str] | None = None) -> int:
    return cli.run("python -m studies.cv_ridge", build_parser(), study, argv)


if __name__ == "__main__":
    sys.exit(main())
