"""Per-window statistics beside the latent at the classifier's input (window_stats="rich" or
"spectral"): the classic hand-made HAR features, computed from the model's own input window,
so that deployment stays window -> probabilities. An opt-in addition to the notebook's network.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# The quantiles of each channel over the window in window_stats="rich".
RICH_QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)


def rich_window_stats(x: Tensor, quantiles: Tensor | None = None) -> Tensor:
    """Per-channel statistics of x (B, C, L) over time, (B, 10 C), grouped by statistic.

    Mean (for total_acc: the gravity direction, which tells SITTING from STANDING), std
    (movement intensity), mean |x| (intensity about zero rather than the mean), min and max
    (peaks: impacts of steps), and the 10/25/50/75/90% quantiles (the shape of the value
    distribution, robust to the peaks; the median posture ignores a brief movement). These are
    the classic hand-crafted HAR features that a max-pooled, flattened CNN map carries only
    indirectly; computed from the model's own input, so deployment stays window -> logits.
    `quantiles` is RICH_QUANTILES as a tensor on x's device (a model keeps one as a buffer, so
    that no step copies it from the host).
    """
    if quantiles is None:
        quantiles = torch.tensor(RICH_QUANTILES, device=x.device)
    q = torch.quantile(x, quantiles.to(x.dtype), dim=-1)
    return torch.cat([x.mean(dim=-1), x.std(dim=-1), x.abs().mean(dim=-1),
                      x.amin(dim=-1), x.amax(dim=-1), *q], dim=1)


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
