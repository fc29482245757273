"""A data file's symbol (``BTCUSD``, ``btcusd``, ``BTC/USD``) -> a Coinbase product id."""

from __future__ import annotations

from cryptoj_actors.model import PRODUCT_ID

__all__ = ["QUOTE_CURRENCIES", "split_symbol"]

# Longest first, so that BTCUSDC splits as BTC-USDC rather than failing on "USD".
QUOTE_CURRENCIES = ("USDC", "USDT", "USD", "EUR", "GBP", "BTC", "ETH")


def split_symbol(symbol: str) -> str | None:
    """``BTCUSD`` (or ``btcusd``, ``BTC-USD``, ``BTC/USD``) -> ``BTC-USD``;
    None if it is no pair of a base and one of :data:`QUOTE_CURRENCIES`."""
    text = symbol.strip().upper()
    for sep in ("-", "/"):
        if sep in text:
            product = text.replace(sep, "-", 1)
            return product if PRODUCT_ID.fullmatch(product) else None
    for quote in QUOTE_CURRENCIES:
        if text.endswith(quote):
            product = f"{text[: -len(quote)]}-{quote}"
            if PRODUCT_ID.fullmatch(product):
                return product
    return None
