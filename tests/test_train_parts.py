"""The training loop's parts: augmentation, schedule, batch order, checkpoint files."""

from __future__ import annotations

import contextlib
import math

import pytest
import torch

from bilm import checkpoint
from bilm.augment import Augment, random_rotations, roll_each, rotate_triples
from bilm.config import BILMConfig
from bilm.distributed import World
from bilm.loop import EVAL_BATCH, align_to_labels, epoch_order, pseudo_labels, recalibrate_batch_norm, steps_per_epoch
from bilm.optim import EpochSchedule
from bilm.sensors import vector_triples


def augmenter(seed=0, **fields) -> Augment:
    return Augment(BILMConfig(**fields), torch.full((1, 9, 1), 2.0), seed=seed)


def test_augment_is_off_by_default_and_deterministic_per_seed():
    assert not augmenter().enabled
    x = torch.randn(8, 9, 32)
    fields = {"augment_jitter": 0.1, "augment_scale": 0.1, "augment_rotation_deg": 30, "augment_shift": 4}
    a, b, c = augmenter(0, **fields), augmenter(0, **fields), augmenter(1, **fields)
    assert a.enabled
    out = a(x)
    assert torch.equal(out, b(x)) and not torch.equal(out, c(x))
    assert not torch.equal(out, x)


def test_augment_state_resumes_the_same_draws():
    a = augmenter(augment_jitter=0.1, augment_rotation_deg=10)
    x = torch.randn(4, 9, 16)
    a(x)
    state = a.state_dict()
    expected = a(x)
    resumed = augmenter(seed=123, augment_jitter=0.1, augment_rotation_deg=10)
    resumed.load_state_dict(state)
    assert torch.equal(resumed(x), expected)


def test_jitter_is_in_standardised_units():
    x = torch.zeros(2000, 9, 16)
    noise = augmenter(augment_jitter=0.5)(x)
    assert noise.std().item() == pytest.approx(0.5 * 2.0, rel=0.02)  # channel std 2


def test_rotations_are_proper_and_bounded():
    R = random_rotations(500, math.radians(30), torch.Generator().manual_seed(0))
    eye = torch.eye(3).expand_as(R)
    torch.testing.assert_close(R @ R.transpose(1, 2), eye, atol=1e-5, rtol=0)
    torch.testing.assert_close(torch.linalg.det(R), torch.ones(500), atol=1e-5, rtol=0)
    angles = torch.arccos(((R.diagonal(dim1=1, dim2=2).sum(1) - 1) / 2).clamp(-1, 1))
    assert angles.max() <= math.radians(30) + 1e-4 and angles.max() > math.radians(25)


def test_one_rotation_turns_every_sensor_triple_and_keeps_norms():
    x = torch.randn(3, 9, 10)
    R = random_rotations(3, math.pi, torch.Generator().manual_seed(1))
    y = rotate_triples(x, R)
    for g in range(3):
        triple = slice(3 * g, 3 * g + 3)
        torch.testing.assert_close(y[:, triple], torch.einsum("bij,bjt->bit", R, x[:, triple]))
        torch.testing.assert_close(y[:, triple].norm(dim=1), x[:, triple].norm(dim=1))


def test_named_channels_turn_only_their_xyz_triples():
    x = torch.randn(3, 8, 10)  # attitude roll, pitch, yaw; then gyro x, y, z; then two more
    R = random_rotations(3, math.pi, torch.Generator().manual_seed(1))
    y = rotate_triples(x, R, [1])
    torch.testing.assert_close(y[:, 3:6], torch.einsum("bij,bjt->bit", R, x[:, 3:6]))
    assert torch.equal(y[:, :3], x[:, :3]) and torch.equal(y[:, 6:], x[:, 6:])
    channels = ["roll", "pitch", "yaw", "gyro_x", "gyro_y", "gyro_z", "p", "q"]
    augment = Augment(BILMConfig(augment_rotation_deg=30), torch.ones(1, 8, 1), seed=0,
                      triples=vector_triples(channels))  # no refusal: the names say what turns
    assert augment.triples == [1] and augment(x).shape == x.shape


def test_every_triple_named_takes_the_path_of_unnamed_data():
    cfg, x = BILMConfig(augment_rotation_deg=30), torch.randn(4, 9, 16)
    named = Augment(cfg, torch.ones(1, 9, 1), seed=0, triples=[0, 1, 2])
    assert named.triples is None and torch.equal(named(x), Augment(cfg, torch.ones(1, 9, 1), seed=0)(x))


def test_roll_each_matches_torch_roll():
    x = torch.randn(3, 2, 7)
    shifts = torch.tensor([0, 2, -3])
    y = roll_each(x, shifts)
    for b, s in enumerate(shifts.tolist()):
        assert torch.equal(y[b], torch.roll(x[b], s, dims=-1))


def test_configs_of_removed_fields_load_only_when_they_turned_them_off():
    assert BILMConfig.from_dict({"sam_rho": 0.0, "average_epochs": 0, "augment_speed": 0.0}) == BILMConfig()
    with pytest.raises(ValueError, match="config field sam_rho was removed"):
        BILMConfig.from_dict({"sam_rho": 0.05})


@pytest.mark.parametrize("field", ["w_ce", "w_biomech", "w_turn_consistency", "w_smoothness"])
@pytest.mark.parametrize("value", [-0.5, float("nan")])
def test_a_loss_weight_must_be_a_number_at_least_zero(field, value):
    with pytest.raises(ValueError, match=f"config field {field} is a loss weight and must be >= 0, got"):
        BILMConfig(latent_sequence="kinematic", **{field: value})


def test_rotation_needs_xyz_triples():
    with pytest.raises(ValueError, match="triples"):
        Augment(BILMConfig(augment_rotation_deg=10), torch.ones(1, 4, 1), seed=0)


def lrs(cfg: BILMConfig, val_losses) -> list[float]:
    schedule = EpochSchedule(torch.optim.Adam([torch.zeros(1, requires_grad=True)], lr=cfg.lr), cfg)
    out = []
    for loss in val_losses:
        out.append(schedule.optimizer.param_groups[0]["lr"])
        schedule.step(loss)
    return out


def test_constant_cosine_warmup_and_plateau_schedules():
    assert lrs(BILMConfig(lr=0.1, epochs=3), [1, 1, 1]) == [0.1, 0.1, 0.1]
    cosine = lrs(BILMConfig(lr=0.1, epochs=4, scheduler="cosine", warmup_epochs=2, min_lr=0.01), [1] * 4)
    assert cosine[:3] == pytest.approx([0.05, 0.1, 0.1]) and cosine[3] == pytest.approx(0.055)
    plateau = lrs(BILMConfig(lr=0.1, scheduler="plateau", plateau_patience=1, plateau_factor=0.5),
                  [3, 2, 2, 2, 1, 1, 1])
    assert plateau == pytest.approx([0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05])


def test_schedule_state_round_trip():
    cfg = BILMConfig(lr=0.1, scheduler="plateau", plateau_patience=0)
    params = [torch.zeros(1, requires_grad=True)]
    a = EpochSchedule(torch.optim.Adam(params, lr=0.1), cfg)
    for loss in (2, 3, 3):
        a.step(loss)
    b = EpochSchedule(torch.optim.Adam(params, lr=0.1), cfg)
    b.load_state_dict(a.state_dict())
    assert b.lr == a.lr == 0.025 and b.optimizer.param_groups[0]["lr"] == 0.025


def test_recalibrated_batch_norm_holds_the_statistics_of_the_clean_windows():
    torch.manual_seed(0)
    network = torch.nn.Sequential(torch.nn.Conv1d(3, 4, 1), torch.nn.Dropout(0.5), torch.nn.BatchNorm1d(4))
    network.train()
    for _ in range(5):  # running statistics of other, shifted batches, as augmentation leaves them
        network(5 + 3 * torch.randn(16, 3, 8))
    X = torch.randn(EVAL_BATCH + 100, 3, 8)
    weights = {k: v.detach().clone() for k, v in network.named_parameters()}
    rng = torch.get_rng_state()

    recalibrate_batch_norm(network, X, contextlib.nullcontext())

    norm = network[2]
    features = [network[0](X[:EVAL_BATCH]).detach(), network[0](X[EVAL_BATCH:]).detach()]  # dropout off
    means = [f.mean(dim=(0, 2)) for f in features]
    variances = [f.transpose(0, 1).reshape(4, -1).var(dim=1) for f in features]  # unbiased, as BatchNorm
    torch.testing.assert_close(norm.running_mean, (means[0] + means[1]) / 2)
    torch.testing.assert_close(norm.running_var, (variances[0] + variances[1]) / 2)
    assert norm.momentum == 0.1 and network.training and norm.training
    assert torch.equal(torch.get_rng_state(), rng)  # no dropout mask drawn
    assert all(torch.equal(v, weights[k]) for k, v in network.named_parameters())


def test_epoch_order_depends_on_seed_and_epoch_only():
    assert torch.equal(epoch_order(50, 0, 3), epoch_order(50, 0, 3))
    assert not torch.equal(epoch_order(50, 0, 3), epoch_order(50, 0, 4))
    assert not torch.equal(epoch_order(50, 0, 3), epoch_order(50, 1, 3))
    assert sorted(epoch_order(50, 0, 3).tolist()) == list(range(50))


def test_steps_per_epoch_keeps_the_short_batch_unless_a_rank_would_get_nothing():
    assert steps_per_epoch(100, 32, World()) == 4
    assert steps_per_epoch(97, 32, World(size=2)) == 3  # a last batch of 1 window for 2 ranks is dropped
    assert steps_per_epoch(98, 32, World(size=2)) == 4
    assert steps_per_epoch(96, 32, World(size=2)) == 3


def test_checkpoints_are_atomic_and_weights_only(tmp_path):
    path = tmp_path / "c.pt"
    checkpoint.save({"model": {"w": torch.ones(2)}, "epoch": 1}, path)

    class Boom:
        def __reduce__(self):
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        checkpoint.save({"model": Boom()}, path)
    assert checkpoint.load(path)["epoch"] == 1  # the old file is intact
    assert list(tmp_path.iterdir()) == [path]  # and no temporary file remains

    torch.save({"weights": torch.ones(1)}, tmp_path / "foreign.pt")
    with pytest.raises(ValueError, match="not a bilm checkpoint"):
        checkpoint.load(tmp_path / "foreign.pt")
    with pytest.raises(FileNotFoundError):
        checkpoint.load(tmp_path / "missing.pt")


class Payload:
    """Unpickling it would run code: weights_only must refuse it."""


def test_checkpoint_with_objects_is_refused(tmp_path):
    torch.save({"format": checkpoint.FORMAT, "model": Payload()}, tmp_path / "evil.pt")
    with pytest.raises(ValueError, match="not a readable checkpoint"):
        checkpoint.load(tmp_path / "evil.pt")


def test_rng_state_round_trip():
    state = checkpoint.capture_rng()
    a = torch.rand(3)
    checkpoint.restore_rng(state)
    assert torch.equal(torch.rand(3), a)


class FixedProbabilities(torch.nn.Module):
    """A 'model' that gives window i the probabilities in row i (read from the window itself)."""

    def forward(self, x, rocket=None):
        assert not self.training  # pseudo-labels are the eval-mode model's
        return x[:, :, 0]


def test_pseudo_labels_label_only_the_unlabeled_windows_the_model_is_sure_of():
    # The labels are half class 0, but the model gives class 0 three quarters of its probability
    # on the unlabeled windows: aligned, class 0 counts for less and its unsure window drops out.
    probabilities = torch.tensor([[0.5, 0.5], [0.5, 0.5], [0.97, 0.03], [0.95, 0.05], [0.90, 0.10], [0.20, 0.80]])
    y = torch.tensor([0, 1, -1, -1, -1, -1])
    model = FixedProbabilities().train()
    pseudo = pseudo_labels(model, probabilities[:, :, None], y, 0.8, contextlib.nullcontext())
    assert pseudo.tolist() == [-1, -1, 0, 0, -1, 1]  # 0.90 for class 0 is 0.75 aligned
    assert model.training and y.tolist() == [0, 1, -1, -1, -1, -1]
    assert pseudo_labels(model, probabilities[:, :, None], y, 0.95, contextlib.nullcontext()).tolist() == [-1] * 6


def test_aligned_probabilities_follow_the_labels_class_shares():
    probabilities = torch.softmax(torch.randn(50, 3), dim=1)
    aligned = align_to_labels(probabilities, torch.tensor([0, 0, 1, 2, -1]))
    torch.testing.assert_close(aligned.sum(dim=1), torch.ones(50))
    unlabelled_class = align_to_labels(probabilities, torch.tensor([0, 1, 1]))
    assert torch.all(unlabelled_class[:, 2] == 0)  # a class without labels is never pseudo-labelled


def test_pseudo_labels_need_unlabeled_windows_and_a_threshold_below_one():
    with pytest.raises(ValueError, match="pseudo_label_threshold=0.9 needs label_subjects > 0"):
        BILMConfig(pseudo_label_threshold=0.9)
    with pytest.raises(ValueError, match=r"pseudo_label_threshold must be in \[0, 1\), got 1.0"):
        BILMConfig(pseudo_label_threshold=1.0, label_subjects=2)
