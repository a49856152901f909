from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hooks.k8s.quantity import Format, Quantity, QuantityError, format_quantity, parse_bytes


@pytest.mark.parametrize(
    ("text", "value", "canonical"),
    [
        ("80Gi", 80 * 1024**3, "80Gi"),
        ("16384Mi", 16 * 1024**3, "16Gi"),
        ("1.5Gi", 1536 * 1024**2, "1536Mi"),
        ("1Ti", 1024**4, "1Ti"),
        ("1023", 1023, "1023"),
        ("500m", Fraction(1, 2), "500m"),
        ("0.1", Fraction(1, 10), "100m"),
        ("2000", 2000, "2k"),
        ("1e3", 1000, "1e3"),
        ("4", 4, "4"),
        ("1n", Fraction(1, 10**9), "1n"),
        ("0", 0, "0"),
        ("-2Gi", -2 * 1024**3, "-2Gi"),
    ],
)
def test_parse_and_print(text: str, value: Fraction | int, canonical: str) -> None:
    quantity = Quantity.parse(text)
    assert quantity.value == value
    assert str(quantity) == canonical


@pytest.mark.parametrize("text", ["16GB", "Gi", "1.2.3", "", "12 Gi", "1Ki5"])
def test_rejects_what_kubernetes_rejects(text: str) -> None:
    with pytest.raises(QuantityError, match="not a Kubernetes quantity"):
        Quantity.parse(text)


def test_precision_below_nano_rounds_up() -> None:
    assert Quantity.parse("0.0000000001").value == Fraction(1, 10**9)


def test_exact_arithmetic_and_ordering() -> None:
    total = Quantity.parse("48Gi") + Quantity.parse("32Gi")
    assert str(total) == "80Gi"
    assert str(total - Quantity.parse("75Gi")) == "5Gi"
    assert Quantity.parse("1Gi") > Quantity.parse("1000Mi")
    assert Quantity.parse("1Gi") == Quantity.parse("1024Mi")


def test_bytes() -> None:
    assert str(Quantity.bytes(1024**3 * 78)) == "78Gi"
    assert str(Quantity.bytes(1000)) == "1k"
    assert parse_bytes("1.5Ki") == 1536
    assert parse_bytes("1m") == 1


@given(st.integers(min_value=0, max_value=2**62))
def test_binary_round_trip(amount: int) -> None:
    text = format_quantity(Fraction(amount), Format.BINARY_SI)
    assert Quantity.parse(text).value == amount


@given(st.integers(min_value=-(10**12), max_value=10**12), st.integers(min_value=0, max_value=9))
def test_decimal_round_trip(mantissa: int, scale: int) -> None:
    value = Fraction(mantissa, 10**scale)
    assert Quantity.parse(format_quantity(value)).value == value


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1e10000000", 2**63 - 1),
        ("1e30000000", 2**63 - 1),
        ("-1e10000000", -(2**63 - 1)),
        ("9" * 1000 + "Gi", 2**63 - 1),
        ("8Ei", 2**63 - 1),
        ("7Ei", 7 * 2**60),
        ("1e-10000000", Fraction(1, 10**9)),
        ("-0.0000000001", -Fraction(1, 10**9)),
        ("0." + "0" * 1000 + "1", Fraction(1, 10**9)),
        ("0e10000000", 0),
        ("1e18", 10**18),
    ],
)
def test_extreme_values_are_capped_like_kubernetes(text: str, value: Fraction | int) -> None:
    """resource.Quantity caps magnitudes at the largest int64 and rounds up to 1n."""
    assert Quantity.parse(text).value == value


@pytest.mark.parametrize("text", ["1e2147483648", "1e-2147483649", "1" * 1025, "9" * 4301 + "Gi"])
def test_refuses_what_it_cannot_bound(text: str) -> None:
    with pytest.raises(QuantityError):
        Quantity.parse(text)


def test_integers_are_capped() -> None:
    assert Quantity.parse(10**400).value == 2**63 - 1


@given(st.text(alphabet="0123456789.eE+-KMGTPkmnui", max_size=40))
def test_any_text_parses_fast_or_is_refused(text: str) -> None:
    try:
        quantity = Quantity.parse(text)
    except QuantityError:
        return
    assert abs(quantity.value) <= 2**63 - 1
    assert str(quantity)
