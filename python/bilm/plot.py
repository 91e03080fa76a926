"""Pictures of what a run's latent learned: latent.png and joints.png.

    python -m bilm.plot runs/x                          # the run's own test split, into runs/x
    python -m bilm.plot runs/x --method tsne --split train --out figures/

latent.png: mu (the latent the classifier reads in eval mode) of the split's windows, after
the checkpoint's own preprocessing, projected to 2-D (PCA, or t-SNE), coloured by activity.
A run that trained an ensemble has one latent per network: --member picks which (default 1).

joints.png: the virtual joint angles (radians) the biomechanical module reads from the
latent, for the joints that vary most across the split, the same joints in every panel.
  - latent_sequence="kinematic": the sensor's roll and pitch in degrees over the window,
    sample by sample (the sway of standing, the swing of each step), and posture.png: each
    activity's spread of the mean roll and pitch (how sitting differs from standing).
  - latent_sequence="temporal": one panel per activity, the angles of --per-class windows
    over time (one latent per step of seq_length / steps samples, at --hz).
  - latent_sequence="noise" (the notebook's): the sequence is mu repeated with noise, its
    steps have no meaning in time, so there are no trajectories to draw. joints.png then
    shows box plots of the joint angles of mu per activity instead, and the command says so.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE

from bilm import checkpoint, cli
from bilm.scoring import load_split
from bilm.inference import LoadedClassifier
from bilm.kinematics import gravity_direction

METHODS = {"pca": "PCA", "tsne": "t-SNE"}  # --method: the name in the title
SHOWN_JOINTS = 4  # more lines per panel stop being readable
SEED = 0  # the same run gives the same pictures
TILT = ("roll", "pitch")
NOISE_NOTE = ("latent_sequence='noise': the latent sequence has no meaning in time, so joints.png "
              "shows the joint angles of mu per activity (box plots) instead of trajectories")


@torch.inference_mode()
def latents(classifier: LoadedClassifier, X: np.ndarray, member: int = 0,
            batch_size: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """mu (N, latent_dim) and what the latent sequence means over time, of raw windows X, as the
    ensemble's network number `member` (0-based) computes them: the joint angles (N, T',
    num_joints) in radians, or for the kinematic latent the tilt (N, T, 2): the roll and
    pitch of the sensor in degrees, sample by sample."""
    model = classifier.module.model.members[member]
    mus, angles = [], []
    for i in range(0, len(X), batch_size):
        x = torch.as_tensor(X[i:i + batch_size], dtype=torch.float32, device=classifier.device)
        out = model.forward_all(classifier.module.model_input(x))
        mus.append(out.mu.cpu())
        angles.append(tilt_deg(gravity_direction(out.kinematics)) if out.kinematics is not None
                      else model.biomech_module.compute_joint_angles(out.z_sequence).cpu())
    return torch.cat(mus).numpy(), torch.cat(angles).numpy()


def tilt_deg(up: Tensor) -> Tensor:
    """Roll and pitch in degrees (..., 2) of a sensor whose frame sees the world's up as `up`
    (..., 3): the tilt an accelerometer at rest shows (roll about x, pitch about y)."""
    x, y, z = up.cpu().unbind(-1)
    return torch.rad2deg(torch.stack([torch.atan2(y, z), torch.atan2(-x, torch.hypot(y, z))], dim=-1))


def project(mu: np.ndarray, method: str) -> tuple[np.ndarray, tuple[str, str]]:
    """mu in 2-D and the two axis labels."""
    if method == "pca":
        pca = PCA(n_components=2).fit(mu)
        shares = pca.explained_variance_ratio_
        return pca.transform(mu), (f"PC 1 ({shares[0]:.0%} of variance)", f"PC 2 ({shares[1]:.0%} of variance)")
    # t-SNE requires perplexity < samples; 30 is sklearn's default.
    tsne = TSNE(n_components=2, perplexity=min(30.0, len(mu) - 1.0), init="pca", random_state=SEED)
    return tsne.fit_transform(mu), ("t-SNE 1", "t-SNE 2")


def latent_figure(xy: np.ndarray, y: np.ndarray, classes: Sequence[str], axis_labels: tuple[str, str],
                  title: str) -> Figure:
    fig = Figure(figsize=(7.5, 6), layout="constrained")
    ax = fig.subplots()
    for k, name in enumerate(classes):
        ax.scatter(*xy[y == k].T, s=6, alpha=0.6, color=f"C{k}", label=name)
    ax.set(xlabel=axis_labels[0], ylabel=axis_labels[1], title=title)
    fig.legend(title="activity", markerscale=3, loc="outside right upper")
    return fig


def top_joints(angles: np.ndarray, n: int = SHOWN_JOINTS) -> np.ndarray:
    """The n joints whose angle varies most over all windows (and steps), in joint order."""
    variance = angles.reshape(-1, angles.shape[-1]).var(axis=0)
    return np.sort(np.argsort(variance)[::-1][:n])


def step_seconds(seq_length: int, steps: int, hz: float) -> float:
    """How long one latent step lasts: 8 samples (0.16 s) for 128 samples in 16 steps at 50 Hz."""
    return seq_length / steps / hz


def class_panels(classes: Sequence[str], title: str, ylabel: str = "joint angle (rad)") -> tuple[Figure, list[Axes]]:
    """A figure with one panel per activity on shared axes, so the panels compare at a glance."""
    ncols = min(3, len(classes))
    nrows = -(-len(classes) // ncols)
    fig = Figure(figsize=(4.2 * ncols + 1.5, 3.0 * nrows + 0.8), layout="constrained")
    axes = fig.subplots(nrows, ncols, sharex=True, sharey=True, squeeze=False).ravel()
    for ax in axes[len(classes):]:
        ax.set_axis_off()
    fig.suptitle(title)
    fig.supylabel(ylabel)
    return fig, list(axes[:len(classes)])


def trajectory_figure(angles: np.ndarray, y: np.ndarray, classes: Sequence[str], joints: np.ndarray,
                      per_class: int, seconds: float, names: Sequence[str] | None = None,
                      what: str = "virtual joint angles", ylabel: str = "joint angle (rad)") -> Figure:
    """angles (N, T', K): per activity, per_class windows' values of the columns `joints` over time."""
    rng = np.random.default_rng(SEED)
    names = names or [f"joint {j}" for j in joints]
    times = (np.arange(angles.shape[1]) + 0.5) * seconds  # the middle of each step
    fig, axes = class_panels(classes, f"{what} over the window, {per_class} windows per activity", ylabel)
    for k, (ax, name) in enumerate(zip(axes, classes)):
        members = np.flatnonzero(y == k)
        windows = rng.choice(members, size=min(per_class, len(members)), replace=False)
        for colour, j in enumerate(joints):
            ax.plot(times, angles[windows, :, j].T, color=f"C{colour}", lw=0.8, alpha=0.8)
        ax.set_title(f"{name} ({len(windows)} windows)")
        ax.grid(alpha=0.3)
    axes[0].set_xlim(0, len(times) * seconds)  # the whole window (the panels share x)
    fig.supxlabel(f"time in the window (s); one step = {seconds:.3g} s")
    fig.legend(handles=[Line2D([], [], color=f"C{c}", label=name) for c, name in enumerate(names)],
               loc="outside right upper")
    return fig


def posture_figure(angles: np.ndarray, y: np.ndarray, classes: Sequence[str], joints: np.ndarray,
                   names: Sequence[str] | None = None,
                   title: str = "joint angles of mu per activity (latent_sequence='noise': no time axis, "
                                "the sequence is mu repeated)", ylabel: str = "joint angle (rad)") -> Figure:
    """angles (N, K): per activity, the spread of the columns `joints` over its windows."""
    names = names or [f"joint {j}" for j in joints]
    fig, axes = class_panels(classes, title, ylabel)
    for k, (ax, name) in enumerate(zip(axes, classes)):
        members = angles[y == k][:, joints]
        if len(members):  # boxplot of no data warns and draws nothing
            ax.boxplot(members, showfliers=False, manage_ticks=False)
        ax.set_title(f"{name} ({len(members)} windows)")
        ax.grid(alpha=0.3, axis="y")
    # Once for the shared axis: boxplot's own ticks would add a copy per panel.
    axes[0].set_xticks(range(1, len(joints) + 1), names)
    axes[0].set_xlim(0.5, len(joints) + 0.5)
    return fig


def joints_figure(classifier: LoadedClassifier, angles: np.ndarray, y: np.ndarray,
                  args: argparse.Namespace) -> Figure:
    if classifier.config.latent_sequence == "kinematic":  # the sway and gait in the sensor's tilt
        return trajectory_figure(angles, y, classifier.classes, np.arange(2), args.per_class, 1 / args.hz,
                                 TILT, "the sensor's tilt", "degrees")
    if classifier.config.latent_sequence == "noise":
        print(f"bilm-plot: note: {NOISE_NOTE}", file=sys.stderr)
        posture = angles[:, 0]  # in eval mode every step of the noise sequence is mu itself
        return posture_figure(posture, y, classifier.classes, top_joints(posture))
    seconds = step_seconds(classifier.config.seq_length, angles.shape[1], args.hz)
    return trajectory_figure(angles, y, classifier.classes, top_joints(angles), args.per_class, seconds)


def load_inputs(args: argparse.Namespace) -> tuple[LoadedClassifier, np.ndarray, np.ndarray]:
    """The run's classifier and the split's windows and labels; a mismatch is a usage error."""
    device = cli.resolve_device(args.device)
    cli.check_data_path(args.data)
    try:
        classifier, _, X, y = load_split(args.run_dir, args.data, args.split, device)
    except (FileNotFoundError, ValueError) as e:
        raise cli.UsageError(str(e)) from None
    return classifier, X, y


def check_member(args: argparse.Namespace, classifier: LoadedClassifier) -> None:
    networks = classifier.config.ensemble
    if not 1 <= args.member <= networks:
        raise cli.UsageError(f"--member {args.member}: {args.run_dir} holds {networks} network(s); "
                             f"choose 1 to {networks}")


def check_args(args: argparse.Namespace) -> None:
    if args.per_class < 1:
        raise cli.UsageError(f"--per-class {args.per_class}: need at least 1")
    if args.max_points < 2:
        raise cli.UsageError(f"--max-points {args.max_points}: need at least 2")
    if not args.hz > 0:
        raise cli.UsageError(f"--hz {args.hz}: need a positive sampling rate")


def plot(args: argparse.Namespace) -> int:
    check_args(args)
    classifier, X, y = load_inputs(args)
    check_member(args, classifier)
    mu, angles = latents(classifier, X, args.member - 1)
    # The projection (t-SNE above all) is what costs: it sees a fixed random subset.
    shown = np.sort(np.random.default_rng(SEED).permutation(len(X))[:args.max_points])
    xy, axis_labels = project(mu[shown], args.method)
    title = f"latent mu of {len(shown)} {args.split} windows ({METHODS[args.method]})"
    if classifier.config.ensemble > 1:
        title += f", network {args.member} of {classifier.config.ensemble}"
    out = Path(args.out) if args.out else checkpoint.resolve(args.run_dir).parent
    out.mkdir(parents=True, exist_ok=True)
    figures = {"latent.png": latent_figure(xy, y[shown], classifier.classes, axis_labels, title),
               "joints.png": joints_figure(classifier, angles, y, args)}
    if classifier.config.latent_sequence == "kinematic":  # the posture each activity is told by
        figures["posture.png"] = posture_figure(angles.mean(axis=1), y, classifier.classes, np.arange(2), TILT,
                                                "the sensor's mean tilt over each window, per activity", "degrees")
    for name, fig in figures.items():
        fig.savefig(out / name, dpi=120)
        print(out / name)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bilm-plot", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a run folder (its best.pt) or a checkpoint file")
    parser.add_argument("--data", metavar="PATH",
                        help="a UCI HAR folder or a dataset .npz (default: the data the run was trained on)")
    parser.add_argument("--split", choices=("test", "train"), default="test",
                        help="which split to show (default: test)")
    parser.add_argument("--out", metavar="DIR",
                        help="where to write latent.png and joints.png (default: the run folder)")
    parser.add_argument("--per-class", type=int, default=3,
                        help="windows drawn per activity in joints.png (default: 3)")
    parser.add_argument("--max-points", type=int, default=3000,
                        help="at most this many windows (a fixed random subset) in latent.png (default: 3000)")
    parser.add_argument("--method", choices=tuple(METHODS), default="pca",
                        help="the 2-D projection; tsne is slower (default: pca)")
    parser.add_argument("--hz", type=float, default=50.0,
                        help="the data's sampling rate in Hz, for the time axis (default: 50)")
    parser.add_argument("--member", type=int, default=1,
                        help="which network of an ensemble run to show, from 1 (default: 1)")
    parser.add_argument("--device", default="auto", help=cli.DEVICE_HELP)
    return parser


def main(argv: list[str] | None = None) -> int:
    return cli.run("bilm-plot", build_parser(), plot, argv)


if __name__ == "__main__":
    sys.exit(main())
