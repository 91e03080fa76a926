"""MiniRocket's ridge classifier beside the network (bilm.ridge) against scikit-learn's."""

import numpy as np
import pytest
import torch
from sklearn.linear_model import RidgeClassifierCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from bilm.config import BILMConfig
from bilm.ensemble import BILMEnsemble
from bilm.ridge import ALPHAS, TEMPERATURE, RidgeHead


def problem(n: int, f: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Noisy linear classes of n windows of f features, one feature constant."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, f)).astype(np.float32)
    X[:, 3] = 1.0
    return X, (X @ rng.normal(size=(f, 4)) + 3 * rng.normal(size=(n, 4))).argmax(1)


@pytest.mark.parametrize("n, f", [(300, 50), (60, 200)])  # through either Gram matrix
def test_the_ridge_is_minirockets_standard_scaler_and_ridge_classifier_cv(n, f):
    X, y = problem(n, f)
    reference = make_pipeline(StandardScaler(), RidgeClassifierCV(alphas=np.array(ALPHAS))).fit(X, y)
    head = RidgeHead(f, 4)
    assert not head.fitted
    head.fit(torch.from_numpy(X), torch.from_numpy(y))
    assert head.fitted and float(head.alpha) == pytest.approx(reference[-1].alpha_)
    new = np.random.default_rng(1).normal(size=(50, f)).astype(np.float32)
    np.testing.assert_allclose(head(torch.from_numpy(new)).numpy(), reference.decision_function(new), atol=1e-4)


def test_unlabelled_windows_are_left_out():
    X, y = problem(200, 30)
    alone, padded = RidgeHead(30, 4), RidgeHead(30, 4)
    alone.fit(torch.from_numpy(X), torch.from_numpy(y))
    noise = torch.randn(50, 30) * 10
    padded.fit(torch.cat([torch.from_numpy(X), noise]), torch.cat([torch.from_numpy(y), -torch.ones(50, dtype=torch.long)]))
    torch.testing.assert_close(padded.weight, alone.weight)


def test_a_loaded_ridge_is_fitted_and_predicts_as_saved():
    X, y = problem(200, 30)
    head = RidgeHead(30, 4)
    head.fit(torch.from_numpy(X), torch.from_numpy(y))
    loaded = RidgeHead(30, 4)
    loaded.load_state_dict(head.state_dict())
    assert loaded.fitted  # so that a resumed run does not fit it again
    torch.testing.assert_close(loaded(torch.from_numpy(X)), head(torch.from_numpy(X)))
    loaded.load_state_dict(RidgeHead(30, 4).state_dict())
    assert not loaded.fitted


def test_too_few_labelled_windows_are_refused():
    with pytest.raises(ValueError, match="at least 2 labelled"):
        RidgeHead(5, 3).fit(torch.randn(4, 5), torch.tensor([0, -1, -1, -1]))


def test_the_config_refuses_a_ridge_without_features():
    with pytest.raises(ValueError, match="rocket_ridge needs MiniRocket's features"):
        BILMConfig(rocket_ridge=True)


def test_the_prediction_is_the_mean_of_the_networks_and_the_fitted_ridge():
    cfg = BILMConfig(input_channels=4, seq_length=40, hidden_dim=16, latent_dim=8, base_channels=8,
                     classifier_input="mu", latent_sequence="temporal", through_latent=True,
                     rocket_features=168, rocket_ridge=True, ensemble=2)
    model = BILMEnsemble.from_config(cfg).eval()
    x = torch.randn(30, 4, 40)
    for member in model.members:
        member.rocket.fit(x)
    networks = torch.stack([torch.softmax(out.logits, 1) for out in model.forward_all(x)]).mean(0)
    torch.testing.assert_close(model(x), networks)  # unfitted: the networks alone
    rocket = model.rocket_features(x)
    model.ridge.fit(rocket, torch.arange(30) % 6)
    ridge = torch.softmax(TEMPERATURE * model.ridge(rocket), 1)
    torch.testing.assert_close(model(x), (networks + ridge) / 2)
