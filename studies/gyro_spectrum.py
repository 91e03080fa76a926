"""Where the kinematic latent's gyroscope goes unexplained: its residual by frequency band.

    python -m studies.gyro_spectrum --data "UCI HAR Dataset" runs/kin-step8 runs/kin-step4

For each run (a model with the kinematic latent) it decodes the test windows as the run's
report.json scores them (`bilm.scoring.kinematic_pairs`) and splits, by a Fourier transform
over each window, the measured gyroscope's variance (each window's mean removed) and the
residual of the decoded one (decoded minus measured) into frequency bands: per band, the
share of the measured variance it holds and the share of that left unexplained; and the
run's R^2. Then, from the measured signal alone, the R^2 a decoder limited to each band's
upper edge could reach at best (the measured gyroscope low-passed there, the same for every
run on the same data): how fine a latent's steps must be to carry the gyroscope.
"""

from __future__ import annotations

import argparse
import math
import sys

import numpy as np

from bilm import cli
from bilm.inference import load_classifier
from bilm.kinematics import r2
from bilm.scoring import kinematic_pairs

# Band edges in Hz; the last band runs to the Nyquist frequency.
EDGES = (1.0, 3.125, 6.25, 12.5)
BANDS = tuple(zip((0.0, *EDGES), (*EDGES, math.inf)))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m studies.gyro_spectrum", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", metavar="RUN", help="run folders of models with the kinematic latent")
    parser.add_argument("--data", metavar="PATH", help="a UCI HAR folder or an .npz (default: the cached copy)")
    return parser


def energy(signal: np.ndarray, rate: float) -> np.ndarray:
    """The energy of (N, T, 3) signals in each band, summed over windows and axes."""
    frequencies = np.fft.rfftfreq(signal.shape[1], 1 / rate)
    spectrum = np.square(np.abs(np.fft.rfft(signal, axis=1))).sum(axis=(0, 2))
    return np.array([spectrum[(frequencies >= lo) & (frequencies < hi)].sum() for lo, hi in BANDS])


def low_passed(signal: np.ndarray, cutoff: float, rate: float) -> np.ndarray:
    spectrum = np.fft.rfft(signal, axis=1)
    spectrum[:, np.fft.rfftfreq(signal.shape[1], 1 / rate) > cutoff] = 0
    return np.fft.irfft(spectrum, n=signal.shape[1], axis=1)


def study(args: argparse.Namespace) -> int:
    X = cli.load_data(args.data).X_test
    names = [f"{lo:g}-{hi:g} Hz" if hi < math.inf else f"{lo:g} Hz and up" for lo, hi in BANDS]
    lines = [f"| run | R² | {' | '.join(names)} |", "|---|---:|" + "---:|" * len(names)]
    for run in args.runs:
        classifier = load_classifier(run)
        if classifier.config.latent_sequence != "kinematic":
            raise cli.UsageError(f"{run}: its model has latent_sequence={classifier.config.latent_sequence!r}, "
                                 "not the kinematic latent")
        rate = classifier.config.sampling_rate
        decoded, measured = kinematic_pairs(classifier, X)["gyro"]
        held = energy(measured - measured.mean(axis=1, keepdims=True), rate)
        left = energy(decoded - measured, rate)
        cells = " | ".join(f"{h / held.sum():.3f} held, {r / h:.2f} left" for h, r in zip(held, left))
        lines.append(f"| {run} | {r2(decoded.reshape(-1, 3), measured.reshape(-1, 3)):.3f} | {cells} |")
    ceilings = ", ".join(f"{cut:g} Hz: {r2(low_passed(measured, cut, rate).reshape(-1, 3), measured.reshape(-1, 3)):.3f}"
                         for cut in EDGES)
    print("\n".join(lines))
    print(f"\nR² at best of a decoder limited to (the measured gyroscope low-passed at) {ceilings}")
    return 0


def main(argv: list[str] | None = None) -> int:
    return cli.run("python -m studies.gyro_spectrum", build_parser(), study, argv)


if __name__ == "__main__":
    sys.exit(main())
