"""MiniRocket's own classifier beside the network (config field `rocket_ridge`): a ridge
regression from the window's MiniRocket features to its class, fitted in closed form on the
training windows before the network trains, its regularisation chosen by leave-one-out error
over MiniRocket's grid of alphas (as scikit-learn's RidgeClassifierCV, which MiniRocket uses,
on features standardised as its StandardScaler does). It learns nothing from the network and
the network nothing from it; the prediction averages the two models' probabilities.

The closed form goes through the smaller of the two Gram matrices (features x features or
windows x windows): MotionSense's ~13,000 training windows of 9,996 features fit in about four
minutes on one CPU thread, where aeon's MiniRocket (scikit-learn's SVD of the whole feature
matrix) took 12 to 43 minutes a fold on two.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

ALPHAS = tuple(10.0 ** (-3 + 6 * k / 9) for k in range(10))  # MiniRocket's: np.logspace(-3, 3, 10)
# Scores of +-1 targets become probabilities by softmax(TEMPERATURE * scores); 3 was chosen
# on MotionSense's validation subjects (docs/cv.md) among 1, 3 and 10.
TEMPERATURE = 3.0


class RidgeHead(nn.Module):
    """features (B, F) -> class scores (B, K); `fit` it on training windows first."""

    def __init__(self, num_features: int, num_classes: int):
        super().__init__()
        self.register_buffer("mean", torch.zeros(num_features))
        self.register_buffer("scale", torch.ones(num_features))
        self.register_buffer("weight", torch.zeros(num_features, num_classes))
        self.register_buffer("bias", torch.zeros(num_classes))
        self.register_buffer("alpha", torch.zeros(()))  # 0 until fitted
        # A plain bool beside the buffer, so that the forward pass branches on no tensor (export).
        self.fitted = False
        self.register_load_state_dict_post_hook(_note_fitted)

    @torch.no_grad()
    def fit(self, features: Tensor, labels: Tensor) -> None:
        """Fit to the features (N, F) of windows of class `labels` (N,); a window labelled -1
        (unlabelled) is left out."""
        labelled = labels >= 0
        X, y = features[labelled].float(), labels[labelled]
        if len(X) < 2:
            raise ValueError(f"rocket_ridge needs at least 2 labelled training windows, got {len(X)}")
        mean, scale = X.mean(0), X.std(0, unbiased=False)
        scale = torch.where(scale > 0, scale, torch.ones_like(scale))  # a constant feature: as StandardScaler
        X = (X - mean) / scale
        targets = -torch.ones(len(X), self.weight.shape[1], device=X.device)
        targets[torch.arange(len(X), device=X.device), y] = 1
        offset = targets.mean(0)
        centred = targets - offset
        U, s = _left_singular(X)
        projected = U.T @ centred
        squared = U * U
        alpha = min(ALPHAS, key=lambda a: _leave_one_out_error(U, squared, s, projected, centred, a))
        self.weight.copy_(X.T @ (U @ (projected / (s + alpha).unsqueeze(1))))
        self.mean.copy_(mean)
        self.scale.copy_(scale)
        self.bias.copy_(offset)
        self.alpha.fill_(alpha)
        self.fitted = True

    def forward(self, features: Tensor) -> Tensor:
        return ((features - self.mean) / self.scale) @ self.weight + self.bias

    def log_probabilities(self, features: Tensor, temperature: float = TEMPERATURE) -> Tensor:
        return torch.log_softmax(temperature * self(features), dim=1)


def _note_fitted(module: RidgeHead, incompatible_keys: object) -> None:
    module.fitted = bool(module.alpha > 0)


def _left_singular(X: Tensor) -> tuple[Tensor, Tensor]:
    """(U, s): the centred X's left singular vectors (N, R) and squared singular values (R,)
    above rounding, from the eigendecomposition of the smaller Gram matrix. The cut is the
    square of numpy's matrix_rank tolerance: in float32 the Gram matrix's eigenvalues below it
    are rounding, and their directions, divided by their tiny singular values, noise."""
    n, f = X.shape
    cut = (max(n, f) * torch.finfo(X.dtype).eps) ** 2
    if n <= f:
        s, U = torch.linalg.eigh(X @ X.T)
        # The columns of X are centred, so the constant vector is a null vector of X X^T whose
        # rounded eigenvalue would be penalised like a real direction; the intercept covers it.
        keep = (s > s.max() * cut) & (U.sum(0).abs() < 0.5 * math.sqrt(n))
        return U[:, keep], s[keep]
    s, V = torch.linalg.eigh(X.T @ X)
    keep = s > s.max() * cut
    s = s[keep]
    return X @ V[:, keep] / s.sqrt(), s


def _leave_one_out_error(U: Tensor, squared: Tensor, s: Tensor, projected: Tensor, targets: Tensor,
                         alpha: float) -> float:
    """The summed squared leave-one-out residuals of ridge at `alpha` (with an intercept), in
    closed form: the residual over 1 minus the window's leverage (`squared`: U * U)."""
    shrink = s / (s + alpha)
    fitted = U @ (projected * shrink.unsqueeze(1))
    leverage = 1 / len(U) + squared @ shrink
    return float((((targets - fitted) / (1 - leverage).unsqueeze(1)) ** 2).sum())


def mix(network: Tensor, ridge: Tensor) -> Tensor:
    """log of the mean of two models' probabilities, from their log-probabilities (B, K)."""
    return torch.logaddexp(network, ridge) - math.log(2)
