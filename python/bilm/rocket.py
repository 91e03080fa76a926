"""MiniRocket's random-kernel features (Dempster, Schmidt & Webb, KDD 2021) as a torch module:
a fixed bank of dilated convolutions whose outputs are summarised as the proportion of
positive values (PPV) above biases fitted on training windows. No weights are learned; the
features feed the latent's head (rocket_features > 0) beside the encoder's feature map. The
trainer computes those of its clean windows once (`BILMEnsemble.rocket_features`); a deployed
model computes them from each window it is given.

The bank follows the multivariate MiniRocket of the paper (as in aeon): the 84 kernels of
length 9 with weights -1 and 2 (three of them 2), dilations spaced exponentially up to
(L - 1) / 8, each (dilation, kernel) summing a random subset of up to 9 channels, every
other combination scored over the positions its convolution needs no padding for, and the
biases drawn as quantiles of the combination's output on one random training window.
"""

from __future__ import annotations

import itertools

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from bilm.window_features import sorted_over_time

KERNEL_LENGTH = 9
# The 84 kernels: the three positions of weight 2 among nine (the other six are -1).
KERNEL_INDICES = np.array(list(itertools.combinations(range(KERNEL_LENGTH), 3)))
NUM_KERNELS = len(KERNEL_INDICES)
MAX_DILATIONS = 32


def dilations(seq_length: int, num_features: int) -> tuple[np.ndarray, np.ndarray]:
    """The dilations and how many features each gives per kernel, as MiniRocket spaces them."""
    per_kernel = max(num_features // NUM_KERNELS, 1)
    count = min(per_kernel, MAX_DILATIONS)
    max_exponent = np.log2((seq_length - 1) / (KERNEL_LENGTH - 1))
    values, counts = np.unique(np.logspace(0, max_exponent, count, base=2).astype(np.int32), return_counts=True)
    counts = (counts * per_kernel / count).astype(np.int32)
    for i in range(per_kernel - counts.sum()):  # the remainder, one at a time from the smallest
        counts[i % len(counts)] += 1
    return values, counts


def golden_quantiles(n: int) -> np.ndarray:
    """A low-discrepancy sequence in (0, 1): the fractional parts of k times the golden ratio."""
    return (np.arange(1, n + 1) * ((np.sqrt(5) + 1) / 2)) % 1


class RocketFeatures(nn.Module):
    """x (B, C, L) -> (B, num_features) PPV features in [0, 1]; call `fit` on training windows first.

    num_features is rounded down to a multiple of 84. The channel subsets, padding choices and
    the windows the biases come from are drawn from `seed`, so a model's bank is reproducible;
    the biases are buffers and travel in the state_dict.
    """

    def __init__(self, channels: int, seq_length: int, num_features: int, seed: int = 0):
        super().__init__()
        if seq_length < KERNEL_LENGTH:
            raise ValueError(f"rocket features need windows of at least {KERNEL_LENGTH} samples, got {seq_length}")
        rng = np.random.default_rng(seed)
        values, counts = dilations(seq_length, num_features)
        self.dilations = [int(d) for d in values]
        self.per_dilation = [int(n) for n in counts]
        self.num_features = NUM_KERNELS * sum(self.per_dilation)
        weights = -np.ones((NUM_KERNELS, 1, KERNEL_LENGTH), np.float32)
        weights[np.arange(NUM_KERNELS)[:, None], 0, KERNEL_INDICES] = 2
        # Constants of the method, rebuilt from (channels, seq_length, num_features, seed).
        self.register_buffer("weight", torch.from_numpy(weights), persistent=False)
        # Per dilation j: masks[j, k] marks the channels kernel k sums, valid[j, k] the positions it counts.
        masks = np.zeros((len(self.dilations), NUM_KERNELS, channels), np.float32)
        valid = np.ones((len(self.dilations), NUM_KERNELS, seq_length), np.float32)
        for j, d in enumerate(self.dilations):
            sizes = (2 ** rng.uniform(0, np.log2(min(channels, 9) + 1), NUM_KERNELS)).astype(int)
            for k, size in enumerate(sizes):
                masks[j, k, rng.choice(channels, size, replace=False)] = 1
            # Every other combination counts only positions whose receptive field is inside the window.
            pad = 4 * d
            unpadded = (j + np.arange(NUM_KERNELS)) % 2 == 1
            if pad < seq_length // 2:
                valid[j, unpadded, :pad] = 0
                valid[j, unpadded, seq_length - pad:] = 0
        self.register_buffer("masks", torch.from_numpy(masks), persistent=False)
        self.register_buffer("valid", torch.from_numpy(valid), persistent=False)
        self.register_buffer("bias", torch.zeros(self.num_features))
        self.register_buffer("fitted", torch.zeros((), dtype=torch.bool))
        self._bias_rng = rng

    def _combined(self, x: Tensor, j: int) -> Tensor:
        """(B, 84, L): each kernel at dilation j, summed over its combination's channels: one
        convolution whose weights are the kernel on the combination's channels, zero elsewhere
        (as fast here as summing the channels first and convolving each sum on its own)."""
        d = self.dilations[j]
        weight = self.masks[j][:, :, None] * self.weight  # (84, C, 9)
        return F.conv1d(x, weight.to(x.dtype), padding=4 * d, dilation=d)

    @torch.no_grad()
    def fit(self, x: Tensor) -> None:
        """Biases from the training windows x (N, C, L): for each combination, the golden-ratio
        quantiles of its output over one randomly chosen window's valid positions."""
        quantiles = golden_quantiles(self.num_features)
        biases, start = [], 0
        for j, n in enumerate(self.per_dilation):
            windows = torch.from_numpy(self._bias_rng.integers(len(x), size=NUM_KERNELS)).to(x.device)
            combined = self._combined(x[windows].float(), j)  # (84, 84, L): window k's row k is used
            rows = combined[torch.arange(NUM_KERNELS), torch.arange(NUM_KERNELS)]
            valid = self.valid[j].bool()
            for k in range(NUM_KERNELS):
                q = torch.as_tensor(quantiles[start:start + n], dtype=torch.float32, device=x.device)
                biases.append(torch.quantile(rows[k][valid[k]], q))
                start += n
        self.bias.copy_(torch.cat(biases))
        self.fitted.fill_(True)

    @torch.no_grad()
    def forward(self, x: Tensor) -> Tensor:
        exporting = torch.jit.is_tracing() or torch.compiler.is_compiling()  # an export holds fitted biases
        if not exporting and not bool(self.fitted):
            raise RuntimeError("this model's MiniRocket biases were never fitted: train it with bilm.fit (or "
                               "python -m bilm.train), load a trained run with bilm.load_classifier, or call "
                               "model.rocket.fit(X) on standardised training windows first")
        parts, start = [], 0
        for j, n in enumerate(self.per_dilation):
            valid = self.valid[j]  # (84, L)
            # Positions a combination does not count never exceed a bias.
            masked = self._combined(x, j).masked_fill(valid == 0, float("-inf"))  # (B, 84, L)
            bias = self.bias[start:start + NUM_KERNELS * n].view(1, NUM_KERNELS, n).to(x.dtype)
            above = (_count_above_exported if exporting else _count_above)(masked, bias)
            parts.append((above / valid.sum(-1)[None, :, None]).flatten(1).to(x.dtype))
            start += NUM_KERNELS * n
        return torch.cat(parts, dim=1)


def _count_above(masked: Tensor, bias: Tensor) -> Tensor:
    """(B, 84, n): how many positions of each kernel's masked output (B, 84, L) exceed each of its
    biases, by one sort and a binary search per bias (a tenth of the time of comparing them all)."""
    ordered = sorted_over_time(masked)
    at_or_below = torch.searchsorted(ordered, bias.expand(ordered.shape[0], -1, -1).contiguous(), right=True)
    return ordered.shape[-1] - at_or_below


def _count_above_exported(masked: Tensor, bias: Tensor) -> Tensor:
    """_count_above by comparing every position with every bias: ONNX has no binary search
    (and a sort with a binary search unrolled into gathers ran 4x slower in ONNX Runtime)."""
    return (masked.unsqueeze(2) > bias.unsqueeze(-1)).to(masked.dtype).sum(-1)
