"""BILMEnsemble: K networks side by side, their mean probability; and format-1 checkpoints."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from bilm import checkpoint
from bilm.config import get_preset
from bilm.inference import load_classifier
from bilm.loop import Objective
from bilm.losses import bilm_loss
from bilm.ensemble import BILMEnsemble, mean_log_probabilities
from bilm.model import BILMClassifier
from bilm.preprocess import Standardize

# The networks alone: without the gravity frame or the MiniRocket bank, which the trainer fits.
CFG = dataclasses.replace(get_preset("default"), input_channels=6, seq_length=32, base_channels=8,
                          hidden_dim=16, latent_dim=8, num_joints=4, gravity_frame=False, rocket_features=0)


def batch(size=5, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(size, CFG.input_channels, CFG.seq_length, generator=g), torch.arange(size) % CFG.num_classes


def test_an_ensemble_of_one_is_the_network_with_the_same_weights():
    torch.manual_seed(3)
    network = BILMClassifier.from_config(CFG).eval()
    torch.manual_seed(3)
    ensemble = BILMEnsemble.from_config(CFG).eval()
    assert len(ensemble.members) == 1
    assert all(torch.equal(a, b) for a, b in zip(network.state_dict().values(),
                                                 ensemble.members[0].state_dict().values()))
    x, _ = batch()
    torch.testing.assert_close(ensemble(x), torch.softmax(network(x)[0], dim=1))


def test_the_members_start_apart_and_the_prediction_is_their_mean_probability():
    torch.manual_seed(0)
    ensemble = BILMEnsemble.from_config(dataclasses.replace(CFG, ensemble=3)).eval()
    first, second = (dict(m.named_parameters())["classifier.0.weight"] for m in ensemble.members[:2])
    assert not torch.equal(first, second)
    x, _ = batch()
    with torch.no_grad():
        each = torch.stack([torch.softmax(m(x)[0], dim=1) for m in ensemble.members])
        torch.testing.assert_close(ensemble(x), each.mean(dim=0))
        assert not torch.allclose(each[0], each[1])


def test_the_objective_sums_the_members_losses_and_scores_their_mean():
    cfg = dataclasses.replace(CFG, ensemble=2)
    torch.manual_seed(0)
    ensemble = BILMEnsemble.from_config(cfg).eval()  # eval: the same draws in both passes
    x, y = batch()
    with torch.no_grad():
        loss, logits = Objective(ensemble, cfg)(x, y)
        alone = [bilm_loss(m.forward_all(x), x, y, m.biomech_module, cfg).total for m in ensemble.members]
        torch.testing.assert_close(loss, alone[0] + alone[1])
        torch.testing.assert_close(torch.softmax(logits, dim=1), ensemble(x))


def test_a_confident_member_keeps_the_log_probabilities_finite():
    confident = torch.tensor([[1000.0, -1000.0]])
    unsure = torch.zeros(1, 2)
    log_p = mean_log_probabilities([confident, unsure])
    assert torch.isfinite(log_p).all()
    torch.testing.assert_close(log_p.exp(), torch.tensor([[0.75, 0.25]]))


def test_gradients_are_clipped_per_member():
    ensemble = BILMEnsemble.from_config(dataclasses.replace(CFG, ensemble=2))
    for member, scale in zip(ensemble.members, (1e-6, 1e3)):
        for p in member.parameters():
            p.grad = torch.full_like(p, scale)
    small_before = [p.grad.clone() for p in ensemble.members[0].parameters()]
    ensemble.clip_grad_norm_(1.0)
    assert all(torch.equal(p.grad, g) for p, g in zip(ensemble.members[0].parameters(), small_before))
    norm = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in ensemble.members[1].parameters()]))
    assert norm == pytest.approx(1.0, rel=1e-4)


def test_an_ensemble_of_none_is_refused():
    with pytest.raises(ValueError, match="ensemble must be >= 1"):
        dataclasses.replace(CFG, ensemble=0)
    with pytest.raises(ValueError, match="at least one network"):
        BILMEnsemble([])


def test_a_format_1_checkpoint_loads_as_an_ensemble_of_its_network(tmp_path):
    """Checkpoints written before ensembles held one BILMClassifier's state_dict."""
    torch.manual_seed(0)
    network = BILMClassifier.from_config(CFG).eval()
    standardize = Standardize(CFG.input_channels)
    old = {"format": checkpoint.FORMAT_1, "config": {k: v for k, v in CFG.to_dict().items() if k != "ensemble"},
           "classes": [f"c{k}" for k in range(CFG.num_classes)], "standardize": standardize.state_dict(),
           "model": network.state_dict(), "epoch": 3}
    torch.save(old, tmp_path / "best.pt")
    classifier = load_classifier(tmp_path)
    x, _ = batch()
    with torch.no_grad():
        expected = torch.softmax(network(x)[0], dim=1).numpy()
    torch.testing.assert_close(torch.from_numpy(classifier.probabilities(x.numpy())), torch.from_numpy(expected))


def test_a_format_1_last_checkpoint_moves_its_weight_average_too():
    old = {"format": checkpoint.FORMAT_1, "model": {"encoder.w": torch.ones(1)},
           "train": {"average": {"module.encoder.w": torch.zeros(1), "n_averaged": torch.tensor(4)}}}
    new = checkpoint.from_format_1(old)
    assert new["format"] == checkpoint.FORMAT
    assert list(new["model"]) == ["members.0.encoder.w"]
    assert list(new["train"]["average"]) == ["module.members.0.encoder.w", "n_averaged"]
    assert old["model"].keys() == {"encoder.w"}  # the caller's dict is left as it was


def test_weights_that_do_not_fit_their_config_are_a_clear_error(tmp_path):
    network = BILMEnsemble.from_config(CFG)
    state = {"config": dataclasses.replace(CFG, ensemble=2).to_dict(), "classes": [f"c{k}" for k in range(6)],
             "standardize": Standardize(CFG.input_channels).state_dict(), "model": network.state_dict(), "epoch": 1}
    checkpoint.save(state, tmp_path / "best.pt")
    with pytest.raises(ValueError, match=r"best.pt: its weights do not fit the config it holds \(Error"):
        load_classifier(tmp_path)
