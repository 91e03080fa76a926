"""The gyroscope-spectrum study on a tiny kinematic run, and the band arithmetic it rests on."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_train_fixtures import make_dataset, train_tiny

from studies import gyro_spectrum


def test_energy_by_band_adds_up_and_a_low_pass_keeps_its_band():
    rate, t = 50.0, np.arange(128) / 50.0
    bin_hz = rate / 128  # whole periods in the window: no leakage between bands
    slow, fast = np.sin(2 * np.pi * bin_hz * t), np.sin(2 * np.pi * 23 * bin_hz * t)  # 0.39 and 8.98 Hz
    signal = np.stack([slow + fast] * 3, axis=-1)[None]  # (1, 128, 3)
    shares = gyro_spectrum.energy(signal, rate)
    assert shares.sum() == pytest.approx(np.square(np.abs(np.fft.rfft(signal, axis=1))).sum())
    assert shares[0] / shares.sum() == pytest.approx(0.5)  # below 1 Hz
    assert shares[3] / shares.sum() == pytest.approx(0.5)  # 6.25-12.5 Hz
    kept = gyro_spectrum.low_passed(signal, 3.125, rate)
    np.testing.assert_allclose(kept[0, :, 0], slow, atol=1e-12)


def test_the_study_scores_a_kinematic_run_as_its_report_does(tmp_path, capsys):
    data = make_dataset(tmp_path / "data.npz", per_subject=10)
    run = train_tiny(data, tmp_path / "kinematic", "--set", "latent_sequence=kinematic",
                     "--set", "through_latent=true", "--set", "kinematic_step=4", epochs=1)
    capsys.readouterr()
    assert gyro_spectrum.main(["--data", str(data), str(run)]) == 0
    table = capsys.readouterr().out
    row = next(line for line in table.splitlines() if line.startswith(f"| {run} |"))
    gyro_r2 = json.loads((run / "report.json").read_text())["physics"]["gyro_r2"]
    assert float(row.split("|")[2]) == pytest.approx(gyro_r2, abs=5e-4)
    assert "R² at best of a decoder limited to" in table


def test_a_run_without_the_kinematic_latent_is_refused(tmp_path, capsys):
    data = make_dataset(tmp_path / "data.npz", per_subject=10)
    run = train_tiny(data, tmp_path / "temporal", epochs=1)
    with pytest.raises(SystemExit):
        gyro_spectrum.main(["--data", str(data), str(run)])
    assert "not the kinematic latent" in capsys.readouterr().err
