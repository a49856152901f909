"""Kubernetes resource quantities with exact arithmetic.

Values are kept as `Fraction`s so that sums of memory budgets never drift, and
are printed canonically the way Kubernetes prints them (`1536Mi`, `1500m`, `2k`).
Like Kubernetes (`resource.ParseQuantity`), precision below nano units is rounded
away from zero, magnitudes are capped at the largest int64, and an exponent beyond
int32 is an error. Tenants write quantities, so the work is bounded before any
arithmetic: the text is at most `MAX_TEXT` characters and the magnitude is read
from the digits, so `1e10000000` costs what `1e18` costs.
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
MAX_TEXT = 1024
"""Longer texts are refused; Kubernetes prints no quantity longer than ~30 characters."""
INT64_MAX = 2**63 - 1
_INT32 = (-(2**31), 2**31 - 1)
_TOO_BIG = 20
"""A decimal magnitude (power of ten of the leading digit) from which the cap applies."""
_TOO_SMALL = -10
"""A decimal magnitude below which a non-zero value rounds to one nano unit."""


@total_ordering
@dataclass(frozen=True)
class Quantity:
    """An exact quantity and the format it prints in."""

    value: Fraction
    format: Format = Format.DECIMAL_SI

    @classmethod
    def parse(cls, text: str | int) -> Quantity:
        if isinstance(text, int):
            return cls(Fraction(max(-INT64_MAX, min(text, INT64_MAX))))
        if len(text) > MAX_TEXT:
            raise QuantityError(f"a quantity of {len(text)} characters is too long")
        match = _PATTERN.match(text.strip())
        if not match:
            raise QuantityError(f"{text!r} is not a Kubernetes quantity (e.g. 16Gi, 500m, 2)")
        number = match["number"]
        if match["binary"]:
            fmt, power, base = Format.BINARY_SI, 10 * _BINARY[match["binary"]], 2
        elif match["exponent"]:
            fmt, power, base = Format.DECIMAL_EXPONENT, int(match["exponent"][1:]), 10
            if not _INT32[0] <= power <= _INT32[1]:
                raise QuantityError(f"{text!r}: the exponent is out of range")
        else:
            fmt, power, base = Format.DECIMAL_SI, 3 * _DECIMAL[match["decimal"] or ""], 10
        return cls(_bounded(number, base, power), fmt)

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


def _bounded(number: str, base: int, power: int) -> Fraction:
    """number * base**power as Kubernetes stores it: rounded away from zero to nano
    units, capped at the largest int64; the magnitude is judged before computing."""
    negative = number.startswith("-")
    whole, _, fraction = number.lstrip("+-").partition(".")
    digits = (whole + fraction).lstrip("0")
    if not digits:
        return Fraction(0)
    significant = whole.lstrip("0")
    leading = (
        len(significant) - 1 if significant else -(len(fraction) - len(fraction.lstrip("0")) + 1)
    )
    magnitude = leading + (power if base == 10 else math.ceil(power * 0.302))
    if magnitude >= _TOO_BIG:
        value = Fraction(INT64_MAX)
    elif magnitude < _TOO_SMALL:
        value = _NANO
    else:
        exact = Fraction(whole + fraction or "0") / 10 ** len(fraction) * Fraction(base) ** power
        value = min(_round_up_to_nano(exact), Fraction(INT64_MAX))
    return -value if negative else value


def _round_up_to_nano(value: Fraction) -> Fraction:
    """Rounded away from zero to a whole number of nano units (value is not negative)."""
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
