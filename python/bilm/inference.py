"""The deployable classifier: raw windows (N, C, T) -> class probabilities (N, K).

It is the run's BILMEnsemble in eval mode (one network unless the run set `ensemble`; the
classifiers read mu, so the output is deterministic) with the run's preprocessing in front
(the gravity frame if the run used it, then the standardisation) and the mean of the
networks' softmax behind. evaluate, predict and export all go through this one module, so
an exported file computes exactly what `bilm.predict` prints.
"""

from __future__ import annotations

import os
import textwrap
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from bilm import checkpoint
from bilm.config import BILMConfig
from bilm.ensemble import BILMEnsemble
from bilm.preprocess import GravityFrame, Standardize


class ProbabilityModel(nn.Module):
    def __init__(self, frame: GravityFrame | nn.Identity, standardize: Standardize, model: BILMEnsemble):
        super().__init__()
        self.frame = frame
        self.standardize = standardize
        self.model = model

    def model_input(self, x: Tensor) -> Tensor:
        """Raw windows (B, C, T) as the network reads them."""
        return self.standardize(self.frame(x))

    def forward(self, x: Tensor) -> Tensor:
        return self.model(self.model_input(x))


@dataclass(frozen=True)
class LoadedClassifier:
    module: ProbabilityModel  # in eval mode, on the requested device
    config: BILMConfig
    classes: tuple[str, ...]
    epoch: int  # the training epoch the weights come from

    @property
    def device(self) -> torch.device:
        return self.module.standardize.mean.device

    def check_input(self, X: np.ndarray) -> None:
        """Raise ValueError unless X is (N, C, T) with this model's channels and length."""
        want = (self.config.input_channels, self.config.seq_length)
        if X.ndim != 3 or X.shape[1:] != want:
            raise ValueError(f"the model takes windows of shape (N, {want[0]}, {want[1]}); got {X.shape}")

    @torch.inference_mode()
    def probabilities(self, X: np.ndarray, batch_size: int = 1024) -> np.ndarray:
        """Class probabilities (N, K) of raw windows X (N, C, T), as float32."""
        self.check_input(X)
        out = [self.module(torch.as_tensor(X[i:i + batch_size], dtype=torch.float32, device=self.device))
               for i in range(0, len(X), batch_size)]
        return torch.cat(out).cpu().numpy() if out else np.zeros((0, len(self.classes)), np.float32)


def load_classifier(path: str | os.PathLike[str], device: torch.device | str = "cpu") -> LoadedClassifier:
    """The classifier of a checkpoint file or a run folder (its best.pt)."""
    state = checkpoint.load(path)
    cfg = BILMConfig.from_dict(state["config"])
    model = BILMEnsemble.from_config(cfg)
    standardize = Standardize(cfg.model_channels)
    try:
        model.load_state_dict(state["model"])
        standardize.load_state_dict(state["standardize"])
    except (KeyError, RuntimeError) as e:  # edited or mixed-up files: say so, not a whole key dump
        first, *rest = str(e).splitlines()
        detail = textwrap.shorten(" ".join(line.strip() for line in rest), 160, placeholder=" ...")
        raise ValueError(f"{checkpoint.resolve(path)}: its weights do not fit the config it holds "
                         f"({first} {detail}); the file was edited or mixes two runs: use the run's own "
                         "best.pt or last.pt, or train it again") from None
    module = ProbabilityModel(GravityFrame.from_config(cfg), standardize, model)
    module = module.to(device).eval().requires_grad_(False)
    return LoadedClassifier(module, cfg, tuple(state["classes"]), int(state["epoch"]))
