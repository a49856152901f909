"""Kubernetes resource quantities with exact arithmetic.

Values are kept as `Fraction`s so that sums of memory budgets never drift, and
are printed canonically the way Kubernetes prints them (`1536Mi`, `1500m`, `2k`).
Like Kubernetes, precision below nano units is rounded up.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from enum import Enum
from fractions import Fraction
from functools import total_ordering


class QuantityError(ValueError):
    """The text is not a Kubernetes quantity."""


class Format(Enum):
    BINARY_SI = "BinarySI"
    DECIMAL_SI = "DecimalSI"
    DECIMAL_EXPONENT = "DecimalExponent"


_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL = {"n": -3, "u": -2, "m": -1, "": 0, "k": 1, "M": 2, "G": 3, "T": 4, "P": 5, "E": 6}
_DECIMAL_BY_POWER = {power: suffix for suffix, power in _DECIMAL.items()}
_BINARY_BY_POWER = {power: suffix for suffix, power in _BINARY.items()}
_PATTERN = re.compile(
    r"^(?P<number>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(?:(?P<binary>Ki|Mi|Gi|Ti|Pi|Ei)|(?P<exponent>[eE][+-]?[0-9]+)|(?P<decimal>[numkMGTPE]?))$"
)
_NANO = Fraction(1, 10**9)


@total_ordering
@dataclass(frozen=True)
class Quantity:
    """An exact quantity and the format it prints in."""

    value: Fraction
    format: Format = Format.DECIMAL_SI

    @classmethod
    def parse(cls, text: str | int) -> Quantity:
        if isinstance(text, int):
            return cls(Fraction(text))
        match = _PATTERN.match(text.strip())
        if not match:
            raise QuantityError(f"{text!r} is not a Kubernetes quantity (e.g. 16Gi, 500m, 2)")
        number = Fraction(match["number"])
        if match["binary"]:
            value, fmt = number * 1024 ** _BINARY[match["binary"]], Format.BINARY_SI
        elif match["exponent"]:
            value, fmt = (
                number * Fraction(10) ** int(match["exponent"][1:]),
                Format.DECIMAL_EXPONENT,
            )
        else:
            value, fmt = (
                number * Fraction(1000) ** _DECIMAL[match["decimal"] or ""],
                Format.DECIMAL_SI,
            )
        return cls(_round_up_to_nano(value), fmt)

    @classmethod
    def bytes(cls, amount: int) -> Quantity:
        """A whole number of bytes, printed with a binary suffix where it divides evenly."""
        return cls(Fraction(amount), Format.BINARY_SI)

    def __add__(self, other: Quantity) -> Quantity:
        return Quantity(self.value + other.value, self.format)

    def __sub__(self, other: Quantity) -> Quantity:
        return Quantity(self.value - other.value, self.format)

    def __lt__(self, other: Quantity) -> bool:
        return self.value < other.value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Quantity) and self.value == other.value

    def __hash__(self) -> int:
        return hash(self.value)

    def ceil(self) -> int:
        """The smallest whole number not below the value (bytes, cores rounded up)."""
        return math.ceil(self.value)

    def __str__(self) -> str:
        return format_quantity(self.value, self.format)


def _round_up_to_nano(value: Fraction) -> Fraction:
    return Fraction(math.ceil(value / _NANO)) * _NANO


def format_quantity(value: Fraction, fmt: Format = Format.DECIMAL_SI) -> str:
    """Canonical text of value, as Kubernetes' `Quantity.String()` prints it."""
    if value == 0:
        return "0"
    if fmt is Format.BINARY_SI and value.denominator == 1 and abs(value) >= 1024:
        power = 0
        while power < 6 and value % 1024 ** (power + 1) == 0:
            power += 1
        if power:
            return f"{int(value / 1024**power)}{_BINARY_BY_POWER[power]}"
        return str(int(value))
    power = _largest_exact_power(value)
    mantissa = int(value / Fraction(1000) ** power)
    if fmt is Format.DECIMAL_EXPONENT:
        return f"{mantissa}e{3 * power}" if power else str(mantissa)
    return f"{mantissa}{_DECIMAL_BY_POWER[power]}"


def _largest_exact_power(value: Fraction) -> int:
    """Largest power of 1000 (from nano to exa) that leaves an integer mantissa."""
    for power in range(6, -4, -1):
        if (value / Fraction(1000) ** power).denominator == 1:
            return power
    return -3


def parse_bytes(text: str) -> int:
    """Bytes of a memory quantity, rounded up to a whole byte."""
    return Quantity.parse(text).ceil()
