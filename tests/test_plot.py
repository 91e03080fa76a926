"""`python -m bilm.plot`: latent.png and joints.png of a run, for temporal and noise latents."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.image import imread
from test_train_fixtures import make_dataset, train_tiny
from threadpoolctl import threadpool_limits

from bilm.inference import load_classifier
from bilm.plot import latents, main, posture_figure, step_seconds, trajectory_figure

CLASSES = ("WALK", "SIT", "LIE")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("plot") / "data.npz", per_subject=10)


@pytest.fixture(scope="module")
def temporal_run(data):
    return train_tiny(data, data.parent / "temporal", epochs=1)  # the default preset is temporal


@pytest.fixture(scope="module")
def noise_run(data):
    return train_tiny(data, data.parent / "noise", "--set", "latent_sequence=noise", epochs=1)


def plot(capsys, *argv) -> tuple[list[str], str]:
    assert main([*map(str, argv), "--device", "cpu"]) == 0
    captured = capsys.readouterr()
    return captured.out.split(), captured.err


def assert_images(paths: list[str]) -> None:
    assert [p.rsplit("/", 1)[-1] for p in paths] == ["latent.png", "joints.png"]
    for path in paths:
        image = imread(path)
        assert image.ndim == 3 and image.shape[0] > 200 and image.shape[1] > 200


def test_temporal_run_into_its_own_folder(temporal_run, capsys):
    paths, err = plot(capsys, temporal_run)
    assert paths == [str(temporal_run / "latent.png"), str(temporal_run / "joints.png")]
    assert_images(paths)
    assert "noise" not in err


def test_tsne_on_the_train_split_into_another_folder(temporal_run, tmp_path, capsys):
    # One OpenMP thread: on a busy shared CPU each of t-SNE's 1000 steps would otherwise
    # wait at a thread barrier far longer than its 20 points take to compute.
    with threadpool_limits(1):
        paths, _ = plot(capsys, temporal_run / "last.pt", "--split", "train", "--method", "tsne",
                        "--max-points", "20", "--per-class", "1", "--out", tmp_path / "figs")
    assert paths[0] == str(tmp_path / "figs" / "latent.png")
    assert_images(paths)


def test_noise_run_says_it_plots_postures_instead(noise_run, tmp_path, capsys):
    paths, err = plot(capsys, noise_run, "--out", tmp_path)
    assert_images(paths)
    assert "latent_sequence='noise'" in err and "no meaning in time" in err


def test_ensemble_run_shows_the_chosen_network(data, tmp_path, capsys):
    run = train_tiny(data, tmp_path / "ensemble", "--set", "ensemble=2", epochs=1)
    capsys.readouterr()  # the training log
    assert_images(plot(capsys, run, "--member", "2", "--out", tmp_path / "second")[0])
    classifier = load_classifier(run)
    X = np.load(data)["X_test"][:8]
    (mu_1, angles_1), (mu_2, angles_2) = latents(classifier, X, 0), latents(classifier, X, 1)
    assert mu_1.shape == mu_2.shape and not np.allclose(mu_1, mu_2)  # each network has its own latent
    assert angles_1.shape == angles_2.shape
    for member in ("0", "3"):
        with pytest.raises(SystemExit) as e:
            main([str(run), "--member", member])
        assert e.value.code == 2
        assert f"--member {member}: {run} holds 2 network(s); choose 1 to 2" in capsys.readouterr().err


def test_step_seconds_follow_the_window_and_rate():
    assert step_seconds(128, 16, 50.0) == pytest.approx(0.16)
    assert step_seconds(128, 16, 25.0) == pytest.approx(0.32)


def test_trajectory_panels_have_time_and_angle_axes_and_the_same_joints():
    rng = np.random.default_rng(0)
    y = np.array([0, 0, 1, 1, 1])  # no window of the third class: its panel stays empty
    fig = trajectory_figure(rng.normal(size=(5, 16, 6)), y, CLASSES, np.array([1, 4]), per_class=2, seconds=0.16)
    panels = fig.axes[:3]
    assert [ax.get_title() for ax in panels] == ["WALK (2 windows)", "SIT (2 windows)", "LIE (0 windows)"]
    assert [len(ax.lines) for ax in panels] == [4, 4, 0]  # 2 windows x 2 joints
    assert panels[0].get_xlim() == pytest.approx((0, 16 * 0.16))
    assert "(s)" in fig.get_supxlabel() and "(rad)" in fig.get_supylabel()
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["joint 1", "joint 4"]


def test_posture_panels_box_the_same_joints_per_activity():
    y = np.array([0, 1, 1, 2])
    fig = posture_figure(np.zeros((4, 5)), y, CLASSES, np.array([0, 3]))
    assert [t.get_text() for t in fig.axes[1].get_xticklabels()] == ["joint 0", "joint 3"]
    assert "noise" in fig.get_suptitle()


@pytest.mark.parametrize("argv, message", [
    (["--split", "valid"], "invalid choice"),
    (["--per-class", "0"], "--per-class 0"),
    (["--hz", "0"], "--hz 0"),
])
def test_bad_options_exit_2(temporal_run, capsys, argv, message):
    with pytest.raises(SystemExit) as e:
        main([str(temporal_run), *argv])
    assert e.value.code == 2
    assert message in capsys.readouterr().err


def test_missing_checkpoint_exits_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main([str(tmp_path)])
    assert e.value.code == 2
    assert "no checkpoint at" in capsys.readouterr().err


def test_data_with_other_channels_exits_2(temporal_run, tmp_path, capsys):
    arrays = dict(np.load(make_dataset(tmp_path / "d.npz", per_subject=2)))
    for split in ("train", "test"):
        arrays[f"X_{split}"] = arrays[f"X_{split}"][:, :6]
    del arrays["channels"]
    np.savez(tmp_path / "six.npz", **arrays)
    with pytest.raises(SystemExit) as e:
        main([str(temporal_run), "--data", str(tmp_path / "six.npz"), "--device", "cpu"])
    assert e.value.code == 2
    assert "(N, 9, 32)" in capsys.readouterr().err
