"""Per-channel standardisation, fitted on the training part only and carried by every checkpoint.

It is a module with two buffers, so the same object standardises training batches, moves with
`.to(device)`, is saved in the checkpoint's state and sits inside the exported classifier.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

# A channel that never varies (a dead sensor axis) keeps its scale instead of dividing by 0.
MIN_STD = 1e-6


class Standardize(nn.Module):
    """x (B, C, T) -> (x - mean_c) / std_c."""

    def __init__(self, channels: int):
        super().__init__()
        self.register_buffer("mean", torch.zeros(1, channels, 1))
        self.register_buffer("std", torch.ones(1, channels, 1))

    @classmethod
    def fit(cls, X: Tensor, enabled: bool = True) -> Standardize:
        """Statistics of every channel over all windows and steps of X (N, C, T).

        With enabled=False it is the identity (mean 0, std 1), so a run without
        standardisation has the same checkpoint layout and code path.
        """
        module = cls(X.shape[1])
        if enabled:
            # float64 sums on the CPU: a channel's 10^6 values in float32 lose digits of the
            # mean, and not every device has float64.
            flat = X.detach().to("cpu", torch.float64).transpose(0, 1).reshape(X.shape[1], -1)
            module.mean.copy_(flat.mean(dim=1).view(1, -1, 1))
            module.std.copy_(flat.std(dim=1).clamp_min(MIN_STD).view(1, -1, 1))
        return module.to(X.device)

    def forward(self, x: Tensor) -> Tensor:
        return (x - self.mean) / self.std
