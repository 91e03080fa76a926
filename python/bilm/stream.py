"""Live predictions: classify the last window of samples as they arrive, one line per hop.

    tail -f phone.csv | python -m bilm.stream runs/x                 # standard input
    python -m bilm.stream runs/x --input phone.csv --follow         # like tail -f itself
    python -m bilm.stream runs/x --input recording.csv --hop 32 > predictions.csv

The input is one sample per line: the run's C channel values, in the units and channel order
of its training data, separated by commas (or by spaces). A first line of names (no numbers)
is a header and is skipped; with --time the first field of every line is a time stamp, copied
as it is to the output's `time` column. Once a window of samples is in (the run's length T),
and then every --hop samples, the window ending at the latest sample goes through the run's
classifier, preprocessing included, exactly as `bilm.predict` would classify it.

Output: CSV with a header, one line per window, flushed at once: sample (the 0-based index of
the window's last sample), time (with --time), label (the class index), class, then p_<class>
for every class. A malformed line is reported on stderr with its line number and skipped.
At the end (or on Ctrl-C) stderr gets the latency: from reading a window's last sample to its
line being written, median, p99 and max.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, TextIO

import numpy as np
import torch
from torch import nn

from bilm import cli
from bilm.inference import LoadedClassifier, load_classifier

PROG = "bilm-stream"
# How often --input FILE is checked for new data at its end: a sample waits at most this long
# in the file before it is read (not counted in the latency, which starts at the read).
POLL_SECONDS = 0.01


class WindowBuffer:
    """The last `length` samples of `channels` channels, as a (C, T) window.

    Each sample is written twice, at i and i + T of a (C, 2T) array, so the window ending at
    the latest sample is always one contiguous slice: no copy until the model reads it.
    """

    def __init__(self, channels: int, length: int):
        self.length = length
        self.data = np.zeros((channels, 2 * length), dtype=np.float32)
        self.count = 0  # samples pushed so far

    def push(self, sample: Sequence[float] | np.ndarray) -> None:
        i = self.count % self.length
        self.data[:, i] = self.data[:, i + self.length] = sample
        self.count += 1

    def full(self) -> bool:
        return self.count >= self.length

    def window(self) -> np.ndarray:
        """The last `length` samples, oldest first, (C, T); valid once full()."""
        start = self.count % self.length
        return self.data[:, start:start + self.length]


class Streamer:
    """Push samples; every `hop` samples, once a whole window is in, get the model's output for
    the window they end (for a classifier: its class probabilities).

    The windows are those `bilm_fast.sliding_windows(signal, T, hop)` cuts from the whole
    recording: window k ends at sample k * hop + T - 1.
    """

    def __init__(self, module: nn.Module, channels: int, length: int, hop: int,
                 device: torch.device | str = "cpu"):
        if hop < 1:
            raise ValueError(f"hop must be at least 1 sample, got {hop}")
        self.module = module.eval()
        self.device = torch.device(device)
        self.hop = hop
        self.buffer = WindowBuffer(channels, length)

    @classmethod
    def for_classifier(cls, classifier: LoadedClassifier, hop: int | None = None) -> Streamer:
        """A run's classifier (preprocessing inside) on its windows; by default a window every
        half window, as the training windows overlap by half."""
        cfg = classifier.config
        hop = hop or max(1, cfg.seq_length // 2)
        return cls(classifier.module, cfg.input_channels, cfg.seq_length, hop, classifier.device)

    @property
    def sample(self) -> int:
        """The index of the latest sample pushed (-1 before any)."""
        return self.buffer.count - 1

    def push(self, sample: Sequence[float] | np.ndarray) -> np.ndarray | None:
        """Add one sample (C values); the output for the window it ends (probabilities (K,)),
        or None when this sample ends no window."""
        self.buffer.push(sample)
        if not self.buffer.full() or (self.buffer.count - self.buffer.length) % self.hop:
            return None
        return self.predict(self.buffer.window())

    @torch.inference_mode()
    def predict(self, window: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(np.ascontiguousarray(window)[None]).to(self.device)
        return self.module(x)[0].cpu().numpy()


class Latency:
    """Seconds from reading a window's last sample to writing its line."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    def summary(self) -> str:
        if not self.seconds:
            return "no window was completed, so no latency to report"
        ms = sorted(s * 1e3 for s in self.seconds)
        p99 = ms[min(len(ms) - 1, math.ceil(0.99 * len(ms)) - 1)]
        return (f"latency from a window's last sample to its line: median {statistics.median(ms):.2f} ms, "
                f"p99 {p99:.2f} ms, max {ms[-1]:.2f} ms over {len(ms)} windows")


def split_fields(line: str) -> list[str]:
    """Comma-separated, or whitespace-separated when there is no comma (UCI HAR's text files)."""
    return [field.strip() for field in line.split(",")] if "," in line else line.split()


def is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class RowParser:
    """Input lines -> (time stamp or None, C floats); a bad line becomes a ValueError naming it."""

    def __init__(self, channels: int, with_time: bool):
        self.channels = channels
        self.with_time = with_time
        self.line = 0  # 1-based number of the last line read

    def is_header(self, fields: list[str]) -> bool:
        """Only the first line may be a header: names, no numbers."""
        values = fields[1:] if self.with_time else fields
        return self.line == 1 and bool(values) and not any(is_number(v) for v in values)

    def check_header(self, fields: list[str]) -> None:
        expected = self.channels + self.with_time
        if len(fields) != expected:
            wanted = f"a time column and {self.channels} channels" if self.with_time else f"{self.channels} channels"
            hint = "" if self.with_time else " (if the first is a time stamp, pass --time)"
            raise cli.CommandError(f"line 1: the header names {len(fields)} columns, but the model takes "
                                   f"{wanted}{hint}: {','.join(fields)}")

    def parse(self, fields: list[str]) -> tuple[str | None, list[float]]:
        stamp, values = (fields[0], fields[1:]) if self.with_time else (None, fields)
        if len(values) != self.channels:
            raise ValueError(f"line {self.line}: expected {self.channels} values"
                             f"{' after the time' if self.with_time else ''}, found {len(values)}")
        numbers = []
        for value in values:
            try:
                number = float(value)
            except ValueError:
                raise ValueError(f'line {self.line}: "{value}" is not a number') from None
            if not math.isfinite(number):  # one NaN would turn T / hop predictions into NaN
                raise ValueError(f'line {self.line}: "{value}" is not a finite number')
            numbers.append(number)
        return stamp, numbers


def follow_lines(f: TextIO, follow: bool) -> Iterator[str]:
    """The lines of a file that may still be growing. A last line without its newline is
    waited for while following (the writer is mid-line); at the end of a finished file it
    counts as a line. Without `follow`, stops at the end of the file."""
    partial = ""
    while True:
        chunk = f.readline()
        if chunk.endswith("\n"):
            yield partial + chunk
            partial = ""
        elif chunk:
            partial += chunk
        elif follow:
            time.sleep(POLL_SECONDS)
        else:
            break
    if partial:
        yield partial


def output_header(classes: Sequence[str], with_time: bool) -> str:
    return ",".join(["sample", *(["time"] if with_time else []), "label", "class",
                     *(f"p_{name}" for name in classes)]) + "\n"


def output_line(sample: int, stamp: str | None, probabilities: np.ndarray, classes: Sequence[str]) -> str:
    label = int(probabilities.argmax())
    # 9 significant digits: a float32 probability read back is the same float32 (as bilm.predict).
    return ",".join([str(sample), *([stamp] if stamp is not None else []), str(label), classes[label],
                     *(f"{p:.9g}" for p in probabilities.tolist())]) + "\n"


def run_stream(streamer: Streamer, classes: Sequence[str], lines: Iterator[str], parser: RowParser,
               out: IO[str], log: IO[str], latency: Latency) -> None:
    """Feed every line to the streamer and write a line per window, timing each in `latency`."""
    out.write(output_header(classes, parser.with_time))
    out.flush()
    for line in lines:
        received = time.perf_counter()
        parser.line += 1
        fields = split_fields(line)
        if not fields:
            continue
        if parser.is_header(fields):
            parser.check_header(fields)
            continue
        try:
            stamp, sample = parser.parse(fields)
        except ValueError as e:
            print(f"{PROG}: {e}; line skipped", file=log, flush=True)
            continue
        probabilities = streamer.push(sample)
        if probabilities is not None:
            out.write(output_line(streamer.sample, stamp, probabilities, classes))
            out.flush()
            latency.seconds.append(time.perf_counter() - received)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", metavar="RUN", help="a run folder (its best.pt) or a checkpoint file")
    parser.add_argument("--input", metavar="FILE", default="-",
                        help="the samples: a CSV file, or - for standard input (default: -)")
    parser.add_argument("--follow", action="store_true",
                        help="with --input FILE: at its end, wait for more lines (like tail -f) until Ctrl-C")
    parser.add_argument("--hop", type=int, metavar="N",
                        help="samples from one window to the next (default: half the window, the training overlap)")
    parser.add_argument("--time", action="store_true",
                        help="the first field of each line is a time stamp, copied to the output's time column")
    parser.add_argument("--threads", type=int, default=1, metavar="N",
                        help="CPU threads for the model (default: 1: a single window gains little from more)")
    parser.add_argument("--device", default="cpu",
                        help="auto, cpu, cuda, cuda:N or mps (default: cpu: one window at a time gains little "
                             "from a GPU, and a live stream's machine often has none)")
    return parser


def check_args(args: argparse.Namespace) -> None:
    if args.hop is not None and args.hop < 1:
        raise cli.UsageError(f"--hop {args.hop}: must be at least 1 sample")
    if args.threads < 1:
        raise cli.UsageError(f"--threads {args.threads}: must be at least 1")
    if args.input == "-" and args.follow:
        raise cli.UsageError("--follow needs --input FILE (standard input is followed anyway)")
    if args.input != "-" and not Path(args.input).is_file():
        raise cli.UsageError(f"--input {args.input}: no such file")


def stream(args: argparse.Namespace) -> int:
    check_args(args)
    device = cli.resolve_device(args.device)
    torch.set_num_threads(args.threads)
    classifier = load_classifier(args.checkpoint, device)
    cfg = classifier.config
    streamer = Streamer.for_classifier(classifier, args.hop)
    print(f"{PROG}: windows of {cfg.seq_length} samples x {cfg.input_channels} channels, one every "
          f"{streamer.hop} samples, on {device}; classes {', '.join(classifier.classes)}", file=sys.stderr)
    # The first call allocates the model's buffers: pay for it before the first sample arrives.
    streamer.predict(np.zeros((cfg.input_channels, cfg.seq_length), np.float32))
    parser = RowParser(cfg.input_channels, args.time)
    source = sys.stdin if args.input == "-" else open(args.input, encoding="utf-8-sig")
    latency = Latency()

    def report() -> None:
        print(f"{PROG}: {parser.line} lines, {streamer.sample + 1} samples; {latency.summary()}", file=sys.stderr)

    try:
        lines = iter(source.readline, "") if source is sys.stdin else follow_lines(source, args.follow)
        run_stream(streamer, classifier.classes, lines, parser, sys.stdout, sys.stderr, latency)
    except KeyboardInterrupt:  # how a followed stream ends: still say how fast it was
        report()
        raise
    except BrokenPipeError:  # the reader went away (`| head`): nothing more to do
        # Point stdout at /dev/null, so that flushing it at exit does not fail once more.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    finally:
        if source is not sys.stdin:
            source.close()
    report()
    return 0


def main(argv: list[str] | None = None) -> int:
    return cli.run(PROG, build_parser(), stream, argv)


if __name__ == "__main__":
    sys.exit(main())
