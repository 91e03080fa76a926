"""Export the deployable classifier: raw windows (N, C, T) in, class probabilities (N, K) out.

    python -m bilm.export runs/x/best.pt --format onnx --out bilm.onnx
    python -m bilm.export runs/x --format torchscript --out bilm.pt

The exported graph is `bilm.inference.ProbabilityModel`: the run's standardisation, the
network in eval mode and a softmax, so it needs nothing from bilm and gives what
`bilm.predict` prints. The batch size is free; channels and length are the model's.
ONNX needs the `export` extra (onnx, onnxscript; onnxruntime to run it).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import torch

from bilm import cli
from bilm.inference import LoadedClassifier, load_classifier

FORMATS = ("onnx", "torchscript")
INPUT_NAME, OUTPUT_NAME = "windows", "probabilities"


def example_input(classifier: LoadedClassifier, batch: int = 2) -> torch.Tensor:
    cfg = classifier.config
    return torch.randn(batch, cfg.input_channels, cfg.seq_length)


def export_onnx(classifier: LoadedClassifier, path: Path) -> None:
    try:
        import onnxscript  # noqa: F401  (the dynamo exporter needs it; say so plainly)
    except ImportError:
        raise ValueError("ONNX export needs onnx and onnxscript: pip install 'bilm[export]'") from None
    batch = torch.export.Dim("batch")
    # external_data=False: one self-contained file (the weights are far below ONNX's 2 GB limit).
    torch.onnx.export(classifier.module, (example_input(classifier),), path, dynamo=True,
                      input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                      dynamic_shapes={"x": {0: batch}}, external_data=False, verbose=False)


def export_torchscript(classifier: LoadedClassifier, path: Path) -> None:
    with warnings.catch_warnings():
        # TorchScript is deprecated upstream but still the format C++/mobile runtimes load;
        # the shape checks it warns about are constant for a given model.
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        traced = torch.jit.trace(classifier.module, example_input(classifier))
        traced.save(str(path))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bilm-export", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", metavar="CHECKPOINT", help="a checkpoint file, or a run folder (its best.pt)")
    parser.add_argument("--format", choices=FORMATS, required=True, help="onnx or torchscript")
    parser.add_argument("--out", metavar="FILE", required=True, help="the file to write")
    return parser


def export(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if not out.parent.is_dir():
        raise cli.UsageError(f"--out {out}: folder {out.parent} does not exist")
    classifier = load_classifier(args.checkpoint, "cpu")
    (export_onnx if args.format == "onnx" else export_torchscript)(classifier, out)
    print(f"wrote {out} ({args.format}): windows (N, {classifier.config.input_channels}, "
          f"{classifier.config.seq_length}) -> probabilities (N, {len(classifier.classes)}) "
          f"over {', '.join(classifier.classes)}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    return cli.run("bilm-export", build_parser(), export, argv)


if __name__ == "__main__":
    sys.exit(main())
