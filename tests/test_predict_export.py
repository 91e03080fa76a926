"""`python -m bilm.predict` and `python -m bilm.export`: same probabilities, standardisation inside."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
import torch
from test_train_fixtures import CLASSES, make_dataset, train_tiny
from test_train_fixtures import single_thread  # noqa: F401  (autouse: one CPU thread per test module)

from bilm import export, predict
from bilm.inference import load_classifier
from bilm.ridge import TEMPERATURE


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("predict")
    data = make_dataset(folder / "data.npz", per_subject=40)
    run = train_tiny(data, folder / "run", epochs=2)
    windows = np.load(data)["X_test"][:25]
    np.save(folder / "windows.npy", windows)
    return run, data, folder / "windows.npy", windows


def predict_csv(capsys, *argv) -> list[dict]:
    assert predict.main([*map(str, argv)]) == 0
    return list(csv.DictReader(io.StringIO(capsys.readouterr().out)))


def probabilities(rows: list[dict]) -> np.ndarray:
    return np.array([[float(r[f"p_{name}"]) for name in CLASSES] for r in rows])


def test_predict_csv_rows(trained, capsys):
    run, _, npy, windows = trained
    rows = predict_csv(capsys, run / "best.pt", npy)
    assert list(rows[0]) == ["index", "label", "class", *(f"p_{name}" for name in CLASSES)]
    assert [int(r["index"]) for r in rows] == list(range(len(windows)))
    p = probabilities(rows)
    np.testing.assert_allclose(p.sum(axis=1), 1, atol=1e-6)
    assert [int(r["label"]) for r in rows] == p.argmax(axis=1).tolist()
    assert all(r["class"] == CLASSES[int(r["label"])] for r in rows)


def test_predict_applies_the_checkpoint_standardisation(trained, capsys):
    run, _, npy, windows = trained
    classifier = load_classifier(run)
    assert not torch.allclose(classifier.module.standardize.std, torch.ones(1))  # the default preset standardises
    model = classifier.module.model.members[0]  # an ensemble of one
    with torch.no_grad():
        framed = classifier.module.frame(torch.from_numpy(windows))  # the default preset's gravity frame
        by_hand = torch.softmax(model(classifier.module.standardize(framed))[0], dim=1).numpy()
        raw = torch.softmax(model(framed)[0], dim=1).numpy()
    p = probabilities(predict_csv(capsys, run, npy))
    np.testing.assert_allclose(p, by_hand, atol=1e-6)
    assert not np.allclose(p, raw, atol=1e-3)


def test_predict_json_and_dataset_input(trained, tmp_path, capsys):
    run, data, npy, windows = trained
    out = tmp_path / "p.json"
    assert predict.main([str(run), str(npy), "--json", "--out", str(out)]) == 0
    records = json.loads(out.read_text())
    assert len(records) == len(windows) and set(records[0]) == {"index", "label", "class", "probabilities"}
    from_npz = predict_csv(capsys, run, data)  # the test split of the .npz: 120 windows
    assert len(from_npz) == 120
    np.testing.assert_allclose(probabilities(from_npz[:25]),
                               [[r["probabilities"][c] for c in CLASSES] for r in records], atol=1e-7)


def test_predict_rejects_windows_of_the_wrong_shape(trained, tmp_path, capsys):
    run = trained[0]
    np.save(tmp_path / "bad.npy", np.zeros((3, 9, 64), np.float32))
    assert predict.main([str(run), str(tmp_path / "bad.npy")]) == 1
    assert "(N, 9, 32)" in capsys.readouterr().err


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:FutureWarning")
def test_torchscript_export_matches_predict(trained, tmp_path, capsys):
    run, _, npy, windows = trained
    path = tmp_path / "model.pt"
    assert export.main([str(run), "--format", "torchscript", "--out", str(path)]) == 0
    scripted = torch.jit.load(str(path))
    p = scripted(torch.from_numpy(windows)).numpy()
    np.testing.assert_allclose(p, probabilities(predict_csv(capsys, run, npy)), atol=1e-5)
    assert scripted(torch.from_numpy(windows[:3])).shape == (3, 6)


def test_onnx_export_matches_predict(trained, tmp_path, capsys):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    run, _, npy, windows = trained
    path = tmp_path / "model.onnx"
    assert export.main([str(run), "--format", "onnx", "--out", str(path)]) == 0
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["windows"]
    p = session.run(None, {"windows": windows})[0]
    # float32 all the same, but ONNX Runtime's kernels round the gravity frame's norms and
    # divisions their own way: a few 1e-5 apart in probability.
    np.testing.assert_allclose(p, probabilities(predict_csv(capsys, run, npy)), atol=5e-5)
    assert session.run(None, {"windows": windows[:7]})[0].shape == (7, 6)  # any batch size


def train_and_predict(trained, tmp_path, capsys, *settings: str):
    """A one-epoch run with `settings`, its classifier, and what predict prints for the windows."""
    _, data, npy, _ = trained
    run = train_tiny(data, tmp_path / "run", *(arg for setting in settings for arg in ("--set", setting)), epochs=1)
    capsys.readouterr()  # the training log
    return run, load_classifier(run), probabilities(predict_csv(capsys, run, npy))


def assert_exports_compute(p: np.ndarray, run, windows: np.ndarray, tmp_path) -> None:
    """The run's TorchScript and ONNX files give the probabilities p of the windows."""
    assert export.main([str(run), "--format", "torchscript", "--out", str(tmp_path / "m.pt")]) == 0
    np.testing.assert_allclose(torch.jit.load(str(tmp_path / "m.pt"))(torch.from_numpy(windows)).numpy(), p,
                               atol=1e-5)
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    assert export.main([str(run), "--format", "onnx", "--out", str(tmp_path / "m.onnx")]) == 0
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(None, {"windows": windows})[0], p, atol=1e-5)


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:FutureWarning")
def test_a_run_with_minirockets_ridge_predicts_and_exports_the_mean_of_both(trained, tmp_path, capsys):
    run, classifier, p = train_and_predict(trained, tmp_path, capsys, "rocket_features=168", "rocket_ridge=true")
    model, windows = classifier.module.model, trained[3]
    assert model.ridge.fitted  # fitted before training, then saved
    with torch.no_grad():
        x = classifier.module.model_input(torch.from_numpy(windows))
        network = torch.softmax(model.members[0](x)[0], dim=1)
        ridge = torch.softmax(TEMPERATURE * model.ridge(model.rocket_features(x)), dim=1)
    assert not np.allclose(network.numpy(), ridge.numpy(), atol=1e-2)
    np.testing.assert_allclose(p, ((network + ridge) / 2).numpy(), atol=1e-6)
    assert_exports_compute(p, run, windows, tmp_path)


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:FutureWarning")
def test_a_run_with_the_gravity_frame_predicts_and_exports_from_raw_windows(trained, tmp_path, capsys):
    run, classifier, p = train_and_predict(trained, tmp_path, capsys, "gravity_frame=true")
    assert classifier.module.standardize.mean.shape == (1, 13, 1)  # 9 channels and the frame's 4
    assert_exports_compute(p, run, trained[3], tmp_path)


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:FutureWarning")
def test_an_ensemble_run_predicts_and_exports_the_mean_of_its_networks(trained, tmp_path, capsys):
    run, classifier, p = train_and_predict(trained, tmp_path, capsys, "ensemble=3")
    windows = trained[3]
    with torch.no_grad():
        x = classifier.module.model_input(torch.from_numpy(windows))
        each = [torch.softmax(member(x)[0], dim=1).numpy() for member in classifier.module.model.members]
    assert len(each) == 3 and not np.allclose(each[0], each[1], atol=1e-3)
    np.testing.assert_allclose(p, np.mean(each, axis=0), atol=1e-6)
    assert_exports_compute(p, run, windows, tmp_path)


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:FutureWarning")
def test_a_run_with_rocket_features_predicts_and_exports_them(trained, tmp_path, capsys):
    run, classifier, p = train_and_predict(trained, tmp_path, capsys, "rocket_features=168")
    bank = classifier.module.model.members[0].rocket
    assert bank.num_features == 168 and bool(bank.fitted) and bank.bias.std() > 0  # fitted, then saved
    assert_exports_compute(p, run, trained[3], tmp_path)
