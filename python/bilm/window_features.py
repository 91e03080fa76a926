"""Per-window statistics beside the latent at the classifier's input (window_stats="rich" or
"spectral"): the classic hand-made HAR features, computed from the model's own input window,
so that deployment stays window -> probabilities. An opt-in addition to the notebook's network.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

# The quantiles of each channel over the window in window_stats="rich".
RICH_QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)


def rich_window_stats(x: Tensor, quantiles: WindowQuantiles | None = None) -> Tensor:
    """Per-channel statistics of x (B, C, L) over time, (B, 10 C), grouped by statistic.

    Mean (for total_acc: the gravity direction, which tells SITTING from STANDING), std
    (movement intensity), mean |x| (intensity about zero rather than the mean), min and max
    (peaks: impacts of steps), and the 10/25/50/75/90% quantiles (the shape of the value
    distribution, robust to the peaks; the median posture ignores a brief movement). These are
    the classic hand-crafted HAR features that a max-pooled, flattened CNN map carries only
    indirectly; computed from the model's own input, so deployment stays window -> logits.
    `quantiles` is WindowQuantiles(L) on x's device (a model keeps one, so that no step
    copies its constants from the host).
    """
    if quantiles is None:
        quantiles = WindowQuantiles(x.shape[-1]).to(x.device)
    return torch.cat([x.mean(dim=-1), x.std(dim=-1), x.abs().mean(dim=-1),
                      x.amin(dim=-1), x.amax(dim=-1), *quantiles(x).unbind(-1)], dim=1)


class WindowQuantiles(nn.Module):
    """x (B, C, L) -> the RICH_QUANTILES of each channel over time, (B, C, 5): for float32,
    torch.quantile(x, RICH_QUANTILES, dim=-1) bit for bit (its linear interpolation between
    neighbours in sorted order, with torch's float64 ranks), but sorted by numpy where it can
    be: torch.sort of 128 values takes 15x np.sort's time, a tenth of a training step.
    Autograd, tracing and exporting need torch's own sort, and get it.
    """

    def __init__(self, seq_length: int):
        super().__init__()
        ranks = np.float32(RICH_QUANTILES).astype(np.float64) * (seq_length - 1)
        below = np.floor(ranks)
        # Constants of the method, not learned or fitted values: kept out of the state_dict.
        self.register_buffer("below", torch.from_numpy(below).long(), persistent=False)
        self.register_buffer("above", torch.from_numpy(np.ceil(ranks)).long(), persistent=False)
        self.register_buffer("weight", torch.from_numpy(ranks - below).float(), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        ordered = sorted_over_time(x)
        return torch.lerp(ordered[..., self.below], ordered[..., self.above], self.weight.to(x.dtype))


def sorted_over_time(x: Tensor) -> Tensor:
    """x sorted along its last axis: by numpy where it can be (see WindowQuantiles)."""
    plain = (type(x) is torch.Tensor and x.device.type == "cpu" and not x.requires_grad
             and not torch.jit.is_tracing() and not torch.compiler.is_compiling())
    if plain:
        return torch.from_numpy(np.sort(x.numpy(), axis=-1))
    return x.sort(dim=-1).values


class StatsNorm(nn.BatchNorm1d):
    """BatchNorm1d over a (B, features) batch that also trains on a batch of one window.

    A trainer's last batch can hold a single window, whose batch variance is undefined; such
    a batch is normalised with the running statistics, as in eval mode, and leaves them as
    they are. Any other batch is plain BatchNorm1d (same parameters and state_dict keys).
    """

    def forward(self, x: Tensor) -> Tensor:
        if self.training and x.shape[0] == 1:
            return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                                training=False, eps=self.eps)
        return super().forward(x)


class LogBandPower(nn.Module):
    """x (B, C, L) -> log of each channel's power in six octave bands, (B, 6 C), grouped by band.

    The bands split the DFT bins 1 .. L/2 at L/64, L/32, .., L/4: at 50 Hz with L = 128,
    0.4-0.8, 0.8-1.6, 1.6-3.1, 3.1-6.3, 6.3-12.5 and 12.5-25 Hz (the constant bin is left out:
    the mean is a statistic of its own). The logarithm is the point: a still posture's body
    signals are a hundredth of a walk's, and their sway and tremor, which tell SITTING from
    STANDING, vanish on a linear scale. The DFT is a matrix product rather than torch.fft so
    that an exported ONNX graph needs only MatMul; a window shorter than 64 samples has empty
    low bands, whose constant log(1e-6) the following batch norm maps to zero.
    """

    bands = 6

    def __init__(self, seq_length: int):
        super().__init__()
        nyquist = seq_length // 2
        bins = torch.arange(1, nyquist + 1, dtype=torch.float64)
        angle = 2 * math.pi * torch.arange(seq_length, dtype=torch.float64)[:, None] * bins / seq_length
        edges = [nyquist / 2 ** (self.bands - b) for b in range(self.bands)] + [math.inf]
        member = torch.stack([(bins >= lo) & (bins < hi) for lo, hi in zip(edges[:-1], edges[1:])], dim=1)
        # Constants of the method, not learned or fitted values: kept out of the state_dict.
        self.register_buffer("dft", torch.cat([angle.cos(), angle.sin()], dim=1).float(), persistent=False)
        self.register_buffer("band_of_bin", member.float(), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        cos, sin = (x @ self.dft).chunk(2, dim=-1)  # (B, C, L/2) each
        power = (cos.square() + sin.square()) @ self.band_of_bin / x.shape[-1]  # (B, C, bands)
        return torch.log(power + 1e-6).transpose(1, 2).flatten(1)
