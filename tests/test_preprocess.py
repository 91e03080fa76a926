"""The gravity frame: motion along and across gravity, unchanged by turning the phone."""

from __future__ import annotations

import math

import pytest
import torch

from bilm.augment import random_rotations, rotate_triples
from bilm.config import BILMConfig
from bilm.preprocess import GravityFrame


def uci_like(batch: int = 5, steps: int = 64) -> torch.Tensor:
    """Random windows in the UCI HAR layout (body_acc, body_gyro, total_acc), gravity mostly
    along each window's own direction."""
    g = torch.randn(batch, 3, 1)
    g = g / g.norm(dim=1, keepdim=True)
    body = 0.1 * torch.randn(batch, 3, steps)
    gyro = 0.3 * torch.randn(batch, 3, steps)
    return torch.cat([body, gyro, g + body], dim=1)


def test_the_frame_appends_four_channels_and_keeps_the_input():
    x = uci_like()
    out = GravityFrame(9, accel_triple=2, gyro_triple=1)(x)
    assert out.shape == (5, 13, 64)
    assert torch.equal(out[:, :9], x)


def test_turning_the_phone_leaves_the_frame_channels_unchanged():
    x = uci_like()
    frame = GravityFrame(9, accel_triple=2, gyro_triple=1)
    turned = rotate_triples(x, random_rotations(len(x), math.pi, torch.Generator().manual_seed(0)))
    assert not torch.allclose(turned, x, atol=1e-2)
    torch.testing.assert_close(frame(turned)[:, 9:], frame(x)[:, 9:], atol=1e-5, rtol=1e-5)


def test_vertical_and_horizontal_parts_of_known_motion():
    steps = 8
    t = torch.arange(steps, dtype=torch.float32)
    bounce = torch.sin(t)  # zero mean over the window
    # A phone lying flat: gravity along z. The body moves up and down, turns about the vertical
    # at 0.5 rad/s and rocks about x at 2 rad/s.
    accel = torch.stack([torch.zeros(steps), torch.zeros(steps), 1 + bounce - bounce.mean()])
    gyro = torch.stack([torch.full((steps,), 2.0), torch.zeros(steps), torch.full((steps,), 0.5)])
    x = torch.cat([accel, gyro]).unsqueeze(0)  # a phone export: ax, ay, az, gx, gy, gz
    out = GravityFrame(6, accel_triple=0, gyro_triple=1)(x)[0, 6:]
    torch.testing.assert_close(out[0], bounce - bounce.mean())  # vertical acceleration
    torch.testing.assert_close(out[1], torch.zeros(steps), atol=1e-6, rtol=0)  # no horizontal one
    torch.testing.assert_close(out[2], torch.full((steps,), 0.5))  # turning
    torch.testing.assert_close(out[3], torch.full((steps,), 2.0))  # rocking


def test_from_config_is_the_identity_unless_asked():
    assert isinstance(GravityFrame.from_config(BILMConfig()), torch.nn.Identity)
    assert isinstance(GravityFrame.from_config(BILMConfig(gravity_frame=True, accel_triple=2, gyro_triple=1)),
                      GravityFrame)


def test_automatic_triples_must_be_found_before_the_frame_is_built():
    with pytest.raises(ValueError, match="accel_triple=-1 means: found from the data's channel names"):
        GravityFrame.from_config(BILMConfig(gravity_frame=True))
    assert BILMConfig(gravity_frame=True).model_channels == 13 and BILMConfig().model_channels == 9


@pytest.mark.parametrize(("channels", "accel", "gyro", "message"), [
    (8, 2, 1, "needs channels in xyz triples; the data has 8"),
    (9, 3, 1, "accel_triple=3 names no triple of the data's 9 channels"),
    (6, 0, 2, "gyro_triple=2 names no triple of the data's 6 channels"),
    (9, 1, 1, "accel_triple and gyro_triple name the same triple"),
])
def test_a_layout_that_does_not_fit_the_data_is_refused(channels, accel, gyro, message):
    with pytest.raises(ValueError, match=message):
        GravityFrame(channels, accel_triple=accel, gyro_triple=gyro)
