"""MiniRocket's features (bilm.rocket) against a direct loop over the paper's definition."""

import numpy as np
import pytest
import torch

from bilm.config import BILMConfig
from bilm.ensemble import BILMEnsemble
from bilm.rocket import KERNEL_INDICES, NUM_KERNELS, RocketFeatures, _count_above, _count_above_exported, dilations


def reference_features(bank: RocketFeatures, x: np.ndarray) -> np.ndarray:
    """PPV of every (dilation, kernel, bias), one window and one position at a time."""
    b, c, length = x.shape
    out = np.zeros((b, bank.num_features))
    bias = bank.bias.numpy()
    f = 0
    for j, (d, n) in enumerate(zip(bank.dilations, bank.per_dilation)):
        mask = bank.masks[j].numpy()
        valid = bank.valid[j].numpy().astype(bool)
        for k in range(NUM_KERNELS):
            weights = -np.ones(9)
            weights[KERNEL_INDICES[k]] = 2
            conv = np.zeros((b, length))
            for t in range(length):
                for i in range(9):
                    s = t + (i - 4) * d
                    if 0 <= s < length:
                        conv[:, t] += weights[i] * (x[:, :, s] * mask[k]).sum(axis=1)
            for m in range(n):
                out[:, f] = (conv[:, valid[k]] > bias[f]).mean(axis=1)
                f += 1
    return out


def test_features_match_the_definition():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, 4, 40)).astype(np.float32)
    bank = RocketFeatures(4, 40, 200, seed=3)
    bank.fit(torch.from_numpy(rng.normal(size=(20, 4, 40)).astype(np.float32)))
    got = bank(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, reference_features(bank, x), atol=1e-6)


def test_biases_are_quantiles_of_the_training_windows():
    bank = RocketFeatures(3, 64, 500, seed=0)
    train = torch.randn(50, 3, 64)
    bank.fit(train)
    features = bank(train)
    # Each bias is a quantile of one training window's output: over the training windows
    # its feature is neither always 0 nor always 1, and averages near one half.
    assert 0.3 < features.mean().item() < 0.7
    assert bank.bias.std() > 0


def test_dilations_follow_minirocket():
    values, counts = dilations(128, 10_000)
    assert values[0] == 1 and values[-1] == 15  # up to (L - 1) / 8
    assert counts.sum() == 10_000 // NUM_KERNELS


def test_unfitted_bank_refuses_and_fitted_bank_round_trips():
    bank = RocketFeatures(3, 32, 100, seed=1)
    with pytest.raises(RuntimeError, match="fit"):
        bank(torch.zeros(1, 3, 32))
    bank.fit(torch.randn(10, 3, 32))
    other = RocketFeatures(3, 32, 100, seed=1)
    other.load_state_dict(bank.state_dict())
    x = torch.randn(4, 3, 32)
    torch.testing.assert_close(other(x), bank(x))


def test_short_windows_are_refused():
    with pytest.raises(ValueError, match="at least 9 samples"):
        RocketFeatures(3, 8, 100)


def test_the_exported_count_is_the_sorted_count():
    combined = torch.randn(6, NUM_KERNELS, 50)
    valid = (torch.rand(NUM_KERNELS, 50) > 0.3).float()
    bias = torch.randn(1, NUM_KERNELS, 7)
    bias[0, :, 0], bias[0, :, 1], bias[0, :, 2] = -10, 10, combined[0, :, 3]  # below all, above all, a tie
    masked = combined.masked_fill(valid == 0, float("-inf"))
    torch.testing.assert_close(_count_above(masked, bias).float(), _count_above_exported(masked, bias))


@pytest.mark.parametrize("count", [-1, 1, 83])
def test_config_refuses_fewer_features_than_kernels(count):
    with pytest.raises(ValueError, match="rocket_features must be 0"):
        BILMConfig(rocket_features=count)


def test_known_features_give_the_model_what_it_would_compute():
    cfg = BILMConfig(input_channels=4, seq_length=40, hidden_dim=16, latent_dim=8, base_channels=8,
                     classifier_input="mu", latent_sequence="temporal", window_stats="spectral",
                     pooled_features=True, through_latent=True, rocket_features=168)
    model = BILMEnsemble.from_config(cfg).eval()
    x = torch.randn(6, 4, 40)
    model.members[0].rocket.fit(x)
    known = model.rocket_features(x)
    assert known.shape == (6, 168)
    torch.testing.assert_close(model(x, known), model(x))
    # and the features reach the latent: other features, another latent
    assert not torch.allclose(model.forward_all(x, 1 - known)[0].mu, model.forward_all(x)[0].mu)


def test_an_ensemble_computes_the_features_once_for_every_member():
    cfg = BILMConfig(input_channels=4, seq_length=40, hidden_dim=16, latent_dim=8, base_channels=8,
                     classifier_input="mu", latent_sequence="temporal", through_latent=True,
                     rocket_features=168, ensemble=2)
    model = BILMEnsemble.from_config(cfg).eval()
    x = torch.randn(6, 4, 40)
    model.members[0].rocket.fit(x)
    model.members[1].rocket.fit(x)  # the same seed draws the same windows: the same biases
    torch.testing.assert_close(model.members[1].rocket.bias, model.members[0].rocket.bias)
    for together, alone in zip(model.forward_all(x), (member.forward_all(x) for member in model.members)):
        torch.testing.assert_close(together.logits, alone.logits)
