"""Exact money arithmetic.

Ledger amounts are :class:`decimal.Decimal`. Sums and differences of decimals
are exact as long as the context has enough digits, so every ledger operation
runs in :data:`LEDGER_CONTEXT` (60 significant digits). The only inexact steps
are a division or a product with a fee rate; their results are rounded once,
to :data:`QUOTE_QUANTUM` (1e-12 quote units, half-even), and from then on every
identity of the ledger holds exactly.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Context, Decimal, InvalidOperation

LEDGER_CONTEXT = Context(prec=60, rounding=ROUND_HALF_EVEN)
QUOTE_QUANTUM = Decimal("1e-12")
ZERO = Decimal(0)
ONE = Decimal(1)
BPS = Decimal("0.0001")


#: Decimal exponent bound of any amount this project accepts (see :func:`to_decimal`).
MAX_EXPONENT = 30


def to_decimal(value: object, what: str = "value") -> Decimal:
    """Parse ``value`` (a string, int or Decimal) into a finite Decimal.

    Floats are refused: they would smuggle binary rounding into the ledger.

    Raises:
        ValueError: ``value`` is a float, not a number, not finite, or out of
            range (its magnitude is not within 1e-30 .. 1e30: no price, size
            or balance is, and the ledger's arithmetic must not overflow).
    """
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        try:
            result = Decimal(value)  # surrounding whitespace is allowed, as Decimal allows
        except InvalidOperation:
            raise ValueError(f"{what} is not a number: {value!r}") from None
    elif isinstance(value, Decimal):
        result = value
    else:
        raise ValueError(f"{what} must be a decimal string or an integer, "
                         f"not {type(value).__name__}")
    if not result.is_finite():
        raise ValueError(f"{what} is not finite: {value!r}")
    if result and not -MAX_EXPONENT <= result.adjusted() <= MAX_EXPONENT:
        raise ValueError(f"{what} is out of range: {value!r}")
    return result


def round_quote(amount: Decimal) -> Decimal:
    """Round a derived quote amount (a fee, a released cost basis) to the ledger quantum."""
    return amount.quantize(QUOTE_QUANTUM, rounding=ROUND_HALF_EVEN, context=LEDGER_CONTEXT)


def floor_to_increment(amount: Decimal, increment: Decimal) -> Decimal:
    """Round ``amount`` down to a whole multiple of ``increment`` (e.g. a base increment).

    Used for order sizes, which an exchange rejects unless they are multiples
    of the product's ``base_increment`` or ``quote_increment``.
    """
    if increment <= 0:
        raise ValueError(f"increment must be positive, got {increment}")
    steps = (amount / increment).to_integral_value(rounding=ROUND_DOWN, context=LEDGER_CONTEXT)
    return LEDGER_CONTEXT.multiply(steps, increment) if steps else ZERO


def fmt(amount: Decimal) -> str:
    """A plain (never scientific) string for a Decimal, as reports and CSVs show it."""
    text = format(amount, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text
