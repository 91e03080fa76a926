"""`python -m bilm.stream`: every streamed prediction is the offline prediction of its window."""

from __future__ import annotations

import csv
import io
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from test_train_fixtures import CHANNELS, CLASSES, ONE_THREAD, STEPS, make_dataset, train_tiny
from test_train_fixtures import single_thread  # noqa: F401  (autouse: one CPU thread per test module)

import bilm_fast
from bilm import stream
from bilm.inference import load_classifier

SAMPLES = 150
HEADER = ",".join(f"ch{c}" for c in range(CHANNELS))


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("stream")
    return train_tiny(make_dataset(folder / "data.npz", per_subject=10), folder / "run", epochs=1)


@pytest.fixture(scope="module")
def recording() -> np.ndarray:
    """A continuous (samples, C) signal: a walk-like sine with noise and an offset."""
    rng = np.random.default_rng(1)
    t = np.arange(SAMPLES)[:, None] / 50.0
    return (np.sin(2 * np.pi * 3 * t) + 0.5 + 0.3 * rng.standard_normal((SAMPLES, CHANNELS))).astype(np.float32)


def csv_lines(signal: np.ndarray) -> list[str]:
    # 9 significant digits: each float32 is read back exactly.
    return [",".join(f"{v:.9g}" for v in row) + "\n" for row in signal]


def offline(run: Path, signal: np.ndarray, hop: int) -> tuple[np.ndarray, np.ndarray]:
    """The last sample of each window and its probabilities, cut and classified in one batch."""
    windows = bilm_fast.sliding_windows(np.ascontiguousarray(signal), STEPS, hop)
    return np.arange(len(windows)) * hop + STEPS - 1, load_classifier(run).probabilities(windows)


def stream_text(monkeypatch, capsys, text: str, *argv: str) -> tuple[list[dict], str]:
    """Run the command on `text` as standard input; its CSV rows and its stderr."""
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))
    assert stream.main([*map(str, argv)]) == 0
    out, err = capsys.readouterr()
    return list(csv.DictReader(io.StringIO(out))), err


def probabilities(rows: list[dict]) -> np.ndarray:
    return np.array([[float(r[f"p_{name}"]) for name in CLASSES] for r in rows], dtype=np.float32)


def assert_offline(rows: list[dict], run: Path, signal: np.ndarray, hop: int) -> None:
    samples, expected = offline(run, signal, hop)
    assert [int(r["sample"]) for r in rows] == samples.tolist()
    # One window at a time against batches of windows: the same float32 up to kernel rounding.
    np.testing.assert_allclose(probabilities(rows), expected, rtol=1e-5, atol=1e-6)
    assert [int(r["label"]) for r in rows] == expected.argmax(axis=1).tolist()
    assert [r["class"] for r in rows] == [CLASSES[int(r["label"])] for r in rows]


@pytest.mark.parametrize("hop", [None, 5])
def test_streamed_predictions_equal_the_offline_ones(run, recording, monkeypatch, capsys, hop):
    text = HEADER + "\n" + "".join(csv_lines(recording)).rstrip("\n")  # a last line without newline
    rows, err = stream_text(monkeypatch, capsys, text, run, *(["--hop", hop] if hop else []))
    assert list(rows[0]) == ["sample", "label", "class", *(f"p_{name}" for name in CLASSES)]
    assert_offline(rows, run, recording, hop or STEPS // 2)  # by default, half a window
    assert f"{SAMPLES + 1} lines, {SAMPLES} samples" in err
    assert "latency from a window's last sample to its line: median" in err


def test_malformed_lines_are_reported_and_skipped(run, recording, monkeypatch, capsys):
    lines = csv_lines(recording)
    short = ",".join(["1"] * (CHANNELS - 1)) + "\n"
    word = lines[0].replace(lines[0].split(",")[2], "abc", 1)
    bad = [(40, short), (41, word), (90, "nan," * (CHANNELS - 1) + "1\n"), (100, "\n")]
    for index, line in bad:  # in order, so each lands at its index
        lines.insert(index, line)
    rows, err = stream_text(monkeypatch, capsys, "".join(lines), run, "--hop", 7)
    assert_offline(rows, run, recording, 7)
    # Line numbers count every input line, 1-based.
    assert f"line 41: expected {CHANNELS} values, found {CHANNELS - 1}; line skipped" in err
    assert 'line 42: "abc" is not a number; line skipped' in err
    assert 'line 91: "nan" is not a finite number; line skipped' in err
    assert err.count("skipped") == 3  # an empty line is no sample and no error


def test_a_time_column_is_copied_and_whitespace_separates_too(run, recording, monkeypatch, capsys):
    lines = [f"t{i} " + line.replace(",", " ") for i, line in enumerate(csv_lines(recording))]
    rows, _ = stream_text(monkeypatch, capsys, "time " + HEADER.replace(",", " ") + "\n" + "".join(lines),
                          run, "--time")
    assert list(rows[0])[:3] == ["sample", "time", "label"]
    assert all(r["time"] == f"t{r['sample']}" for r in rows)
    assert_offline(rows, run, recording, STEPS // 2)


def test_a_header_of_the_wrong_width_stops_the_stream(run, recording, monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO("time," + HEADER + "\n" + "".join(csv_lines(recording))))
    assert stream.main([str(run)]) == 1
    err = capsys.readouterr().err
    assert f"line 1: the header names {CHANNELS + 1} columns, but the model takes {CHANNELS} channels" in err
    assert "--time" in err


@pytest.mark.parametrize("argv, message", [
    (["--hop", "0"], "--hop 0: must be at least 1 sample"),
    (["--follow"], "--follow needs --input FILE"),
    (["--input", "missing.csv"], "--input missing.csv: no such file"),
    (["--threads", "0"], "--threads 0"),
    (["--device", "tpu"], "--device 'tpu'"),
])
def test_bad_arguments_exit_2(run, capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        stream.main([str(run), *argv])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_a_missing_run_is_an_error(tmp_path, capsys):
    assert stream.main([str(tmp_path / "nowhere")]) == 1
    assert "no checkpoint at" in capsys.readouterr().err


def write_slowly(path: Path, lines: list[str]) -> None:
    """Append the lines in bursts, some cut mid-line, as a logger writing a file would."""
    with path.open("a") as f:
        for start in range(0, len(lines), 25):
            burst = "".join(lines[start:start + 25])
            cut = len(burst) - 7  # the burst's last line arrives in two parts
            for part in (burst[:cut], burst[cut:]):
                f.write(part)
                f.flush()
                time.sleep(0.05)


def test_a_followed_file_is_read_to_the_end_as_it_grows(run, recording, tmp_path):
    path = tmp_path / "live.csv"
    path.write_text(HEADER + "\n")
    # A shell that runs the suite in the background ignores SIGINT, and children inherit that:
    # give the stream what a terminal's Ctrl-C meets.
    process = subprocess.Popen([sys.executable, "-m", "bilm.stream", str(run), "--input", str(path), "--follow"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, **ONE_THREAD},
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    watchdog = threading.Timer(120, process.kill)  # a hang fails the test instead of the suite
    watchdog.start()
    writer = threading.Thread(target=write_slowly, args=(path, csv_lines(recording)))
    try:
        writer.start()
        expected = len(offline(run, recording, STEPS // 2)[0])
        lines = [process.stdout.readline() for _ in range(expected + 1)]  # the header, then a line a window
        process.send_signal(signal.SIGINT)  # how a followed stream ends
        _, err = process.communicate(timeout=60)
    finally:
        watchdog.cancel()
        writer.join()
    assert process.returncode == 130
    assert_offline(list(csv.DictReader(io.StringIO("".join(lines)))), run, recording, STEPS // 2)
    assert "latency from a window's last sample to its line: median" in err
    assert "skipped" not in err  # the lines cut in two were waited for, not taken as malformed


class Window(torch.nn.Module):
    """Outputs its input window, flattened: what the streamer hands the model."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1)


def test_the_streamer_cuts_uci_har_windows_from_their_recording(uci_har_root):
    """UCI HAR's windows overlap by half: a signal rebuilt from them, streamed with a hop of
    half a window, gives back exactly the dataset's windows."""
    signals = Path(uci_har_root) / "test" / "Inertial Signals"
    names = [f"{kind}_{axis}" for kind in ("body_acc", "body_gyro", "total_acc") for axis in "xyz"]
    X = np.stack([np.loadtxt(signals / f"{name}_test.txt", max_rows=10, dtype=np.float32) for name in names], 1)
    assert np.array_equal(X[1:, :, :64], X[:-1, :, 64:])  # one recording: subject 2's first windows
    recording = np.concatenate([X[0], *X[1:, :, 64:]], axis=1).T  # (samples, 9)
    streamer = stream.Streamer(Window(), 9, 128, hop=64)
    out = [w for w in map(streamer.push, recording) if w is not None]
    np.testing.assert_array_equal(np.array(out), X.reshape(len(X), -1))
