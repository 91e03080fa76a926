"""The default preset finds the accelerometer and the gyroscope from the data's channel names."""

import dataclasses

import pytest

from bilm.config import BILMConfig, get_preset
from bilm.data.datasets import dsads, motionsense, uci_har, usc_had, wisdm
from bilm.sensors import Triple, configure, xyz_triples

DEFAULT = get_preset("default")


def test_triples_are_found_whichever_side_the_axis_letter_is_on():
    assert xyz_triples(["total_acc_x [g]", "total_acc_y [g]", "total_acc_z [g]"]) == [Triple(0, "total_acc_", "g")]
    assert xyz_triples(["T_xacc [m/s^2]", "T_yacc [m/s^2]", "T_zacc [m/s^2]"]) == [Triple(0, "T_acc", "m/s^2")]
    assert xyz_triples(["gx", "gy", "gz", "a", "b", "c"]) == [Triple(0, "g", "")]


def test_no_triple_where_names_do_not_differ_in_x_y_z_alone():
    assert xyz_triples(["acc_x", "acc_z", "acc_y"]) == []  # out of order
    assert xyz_triples(["acc_x [g]", "acc_y [g]", "acc_z [m/s^2]"]) == []  # mixed units
    assert xyz_triples(["attitude.roll", "attitude.pitch", "attitude.yaw"]) == []
    assert xyz_triples(["a_x", "a_y", "a_z", "b_x"]) == [Triple(0, "a_", "")]  # a trailing channel is no triple


@pytest.mark.parametrize("channels, accel, gyro, gravity", [
    (uci_har.CHANNELS, 2, 1, 1.0),  # total_acc, not body_acc
    (dsads.CHANNELS, 0, 1, 9.80665),  # the torso unit's, in m/s^2
    (usc_had.CHANNELS, 0, 1, 1.0),
    (motionsense.CHANNELS, 4, 2, 1.0),  # the sum of gravity and userAcceleration that the loader appends
    (("gyro_x", "gyro_y", "gyro_z", "acc_x", "acc_y", "acc_z"), 1, 0, 1.0),  # by name, without units
    (("ax", "ay", "az", "gx", "gy", "gz"), 0, 1, 1.0),  # a phone app's short names
    (("lin_acc_x", "lin_acc_y", "lin_acc_z", "acc_x", "acc_y", "acc_z", "wx", "wy", "wz"), 1, 2, 1.0),
])
def test_the_default_preset_configures_itself(channels, accel, gyro, gravity):
    cfg, note = configure(DEFAULT, channels, 25.0)
    assert (cfg.accel_triple, cfg.gyro_triple, cfg.gravity, cfg.sampling_rate) == (accel, gyro, gravity, 25.0)
    assert cfg.gravity_frame and note is None


@pytest.mark.parametrize("channels, why", [
    (None, "the data does not name its channels"),
    (wisdm.CHANNELS, "look like a gyroscope"),  # an accelerometer alone
    (motionsense.COLUMN_CHANNELS, "look like an accelerometer with gravity"),  # gravity and user acceleration apart
])
def test_without_the_sensors_the_gravity_frame_is_turned_off_in_one_line(channels, why):
    cfg, note = configure(DEFAULT, channels, None)
    assert not cfg.gravity_frame and why in note and "\n" not in note
    assert cfg.sampling_rate == DEFAULT.sampling_rate  # the data did not say


def test_triples_the_user_set_are_kept():
    cfg, note = configure(dataclasses.replace(DEFAULT, accel_triple=0, gyro_triple=2), uci_har.CHANNELS, None)
    assert (cfg.accel_triple, cfg.gyro_triple, cfg.gravity_frame, note) == (0, 2, True, None)


def test_the_unit_sets_the_size_of_gravity_and_the_user_its_sign():
    ios = dataclasses.replace(DEFAULT, gravity=-1.0)  # iOS reads -1 g upward at rest
    assert configure(ios, motionsense.CHANNELS, 50.0)[0].gravity == -1.0
    in_si = [f"acc_{axis} [m/s^2]" for axis in "xyz"] + [f"gyro_{axis} [rad/s]" for axis in "xyz"]
    assert configure(ios, in_si, 50.0)[0].gravity == -9.80665
    assert configure(DEFAULT, in_si, 50.0)[0].gravity == 9.80665


def test_one_triple_set_and_the_other_found():
    cfg, _ = configure(dataclasses.replace(DEFAULT, accel_triple=0), uci_har.CHANNELS, None)
    assert (cfg.accel_triple, cfg.gyro_triple) == (0, 1)


def test_a_config_without_the_frame_is_left_alone_on_data_without_names():
    cfg, note = configure(BILMConfig(), None, None)
    assert (cfg.accel_triple, cfg.gyro_triple, note) == (-1, -1, None)


def test_the_kinematic_latent_cannot_go_without_its_sensors():
    kinematic = dataclasses.replace(DEFAULT, latent_sequence="kinematic")
    with pytest.raises(ValueError, match="kinematic needs an accelerometer with gravity and a gyroscope"):
        configure(kinematic, wisdm.CHANNELS, None)
    with pytest.raises(ValueError, match="in rad/s, but the data's gyro_ channels are in deg/s"):
        configure(kinematic, usc_had.CHANNELS, None)


def test_minus_one_is_the_only_automatic_value():
    with pytest.raises(ValueError, match="or -1 to find it from the channel names"):
        BILMConfig(accel_triple=-2)
