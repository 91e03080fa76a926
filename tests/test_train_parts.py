"""The training loop's parts: augmentation, schedule, batch order, checkpoint files."""

from __future__ import annotations

import contextlib
import math

import pytest
import torch

from bilm import checkpoint
from bilm.augment import Augment, random_rotations, resample_each, roll_each, rotate_triples
from bilm.config import BILMConfig
from bilm.distributed import World
from bilm.loop import EVAL_BATCH, Objective, epoch_order, recalibrate_batch_norm, steps_per_epoch, train_step
from bilm.model import BILMEnsemble
from bilm.optim import EpochSchedule, TailAverage, climb_to_sharpest


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


def test_roll_each_matches_torch_roll():
    x = torch.randn(3, 2, 7)
    shifts = torch.tensor([0, 2, -3])
    y = roll_each(x, shifts)
    for b, s in enumerate(shifts.tolist()):
        assert torch.equal(y[b], torch.roll(x[b], s, dims=-1))


def test_resample_each_plays_each_window_at_its_own_speed():
    t = torch.arange(128, dtype=torch.float64)
    wave = torch.sin(2 * math.pi * t / 32).expand(2, 3, 128)  # a period of 32 samples
    y = resample_each(wave, torch.tensor([1.0, 1.25]))
    assert torch.equal(y[0], wave[0])  # speed 1 is the window itself
    faster = torch.sin(2 * math.pi * (63.5 + (t - 63.5) * 1.25) / 32)  # a period of 25.6 samples
    # Linear interpolation is within (step x 2 pi / period)^2 / 8 of the sine; the ends wrap round.
    torch.testing.assert_close(y[1, :, 20:108], faster[20:108].expand(3, -1), atol=5e-3, rtol=0)


def test_speed_augmentation_stays_within_its_range():
    aug = augmenter(augment_speed=0.2)
    t = torch.arange(128.0)
    x = torch.sin(2 * math.pi * t / 32).expand(64, 9, 128).contiguous()
    spectrum = torch.fft.rfft(aug(x), dim=-1).abs()[:, 0]  # (64, 65): bin 4 is the original frequency
    peak = spectrum.argmax(dim=1)
    assert peak.min() >= 3 and peak.max() <= 5 and len(peak.unique()) > 1  # 0.8x..1.2x of bin 4
    with pytest.raises(ValueError, match="augment_speed must be in"):
        BILMConfig(augment_speed=1.0)


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


def test_tail_average_is_the_mean_of_the_steps_of_the_last_epochs():
    network = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2))
    average = TailAverage(network, BILMConfig(epochs=3, average_epochs=2))
    seen = []
    for epoch in range(3):
        for _ in range(2):  # two steps an epoch
            with torch.no_grad():
                network[0].weight.normal_()
                network[1].running_mean.normal_()
            average.update(epoch)
            if epoch >= 1:
                seen.append((network[0].weight.clone(), network[1].running_mean.clone()))
        kept = average.model(epoch + 1)
        assert (kept is network) == (epoch == 0)  # the network itself until an averaged step
    kept = average.model(3)
    assert torch.allclose(kept[0].weight, torch.stack([w for w, _ in seen]).mean(0), atol=1e-6)
    assert torch.allclose(kept[1].running_mean, torch.stack([m for _, m in seen]).mean(0), atol=1e-6)

    resumed = TailAverage(network, BILMConfig(epochs=3, average_epochs=2))
    resumed.load_state_dict(average.state_dict())
    assert torch.equal(resumed.model(3)[0].weight, kept[0].weight)


def test_tail_average_off_keeps_the_network():
    network = torch.nn.Linear(2, 2)
    average = TailAverage(network, BILMConfig(epochs=3))
    average.update(2)
    assert average.model(3) is network and average.state_dict() is None


def test_average_epochs_must_fit_the_run():
    with pytest.raises(ValueError, match="average_epochs=4 is more than epochs=3"):
        BILMConfig(epochs=3, average_epochs=4)
    with pytest.raises(ValueError, match="average_epochs must be >= 0"):
        BILMConfig(average_epochs=-1)


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


def sharpness_case(rho):
    """A two-network ensemble in eval mode (no random draws, so both passes see the same
    function), its objective, plain SGD at lr 1 (a step subtracts the gradient) and a batch."""
    cfg = BILMConfig(input_channels=6, seq_length=32, base_channels=4, hidden_dim=8, latent_dim=4, num_joints=3,
                     latent_sequence="temporal", ensemble=2, grad_clip=0.0, sam_rho=rho)
    torch.manual_seed(0)
    model = BILMEnsemble.from_config(cfg).eval()
    x, y = torch.randn(5, 6, 32), torch.arange(5) % cfg.num_classes
    return cfg, model, Objective(model, cfg), torch.optim.SGD(model.parameters(), lr=1.0), x, y


def test_a_sharpness_aware_step_takes_the_gradient_at_each_networks_sharpest_neighbour():
    rho = 0.05
    cfg, model, objective, optimizer, x, y = sharpness_case(rho)
    start = [p.detach().clone() for p in model.parameters()]
    objective(x, y)[0].backward()
    for member in model.members:  # by hand: w + rho g / |g| per network, then the gradient there
        params = list(member.parameters())
        norm = torch.linalg.vector_norm(torch.cat([p.grad.flatten() for p in params]))
        with torch.no_grad():
            for p in params:
                p.add_(rho * p.grad / norm)
    optimizer.zero_grad()
    objective(x, y)[0].backward()
    expected = [w - p.grad for w, p in zip(start, model.parameters())]
    with torch.no_grad():
        for p, w in zip(model.parameters(), start):
            p.copy_(w)

    loss, _ = train_step(objective, model, optimizer, x, y, cfg, contextlib.nullcontext())

    for p, want in zip(model.parameters(), expected):
        torch.testing.assert_close(p, want)
    plain_cfg, plain_model, plain_objective, plain_optimizer, *_ = sharpness_case(0.0)
    plain_loss, _ = train_step(plain_objective, plain_model, plain_optimizer, x, y, plain_cfg, contextlib.nullcontext())
    assert loss == plain_loss  # reported at the weights the step started from
    assert not all(torch.allclose(a, b) for a, b in zip(model.parameters(), plain_model.parameters()))


def test_climbing_and_moving_back_restores_the_weights():
    _, model, objective, _, x, y = sharpness_case(0.5)
    starts = [[p.detach().clone() for p in member.parameters()] for member in model.members]
    objective(x, y)[0].backward()
    move_back = climb_to_sharpest(model.members, 0.5)
    for member, start in zip(model.members, starts):  # each network moves by rho, whatever its gradient's size
        moved = torch.cat([(p - w).flatten() for p, w in zip(member.parameters(), start)])
        assert torch.linalg.vector_norm(moved).item() == pytest.approx(0.5, rel=1e-4)
    move_back()
    for member, start in zip(model.members, starts):
        for p, w in zip(member.parameters(), start):
            torch.testing.assert_close(p, w)


def test_sam_rho_must_not_be_negative():
    with pytest.raises(ValueError, match="sam_rho must be >= 0"):
        BILMConfig(sam_rho=-0.1)


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
