"""The UCI HAR number format, written independently of bilm.synth for the tests to compare with."""

from __future__ import annotations


def uci_field(v: float) -> str:
    """`%.7e` with a 3-digit exponent, right-aligned in 16 characters: `d.ddddddde±ddd`."""
    mantissa, exponent = f"{v:.7e}".split("e")
    return f"{mantissa}e{exponent[0]}{int(exponent[1:]):03d}".rjust(16)
