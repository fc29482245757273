"""The ledger: hand-computed cases, refusals, surprises, snapshots, and
hypothesis properties of its exact arithmetic."""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cryptoj_actors.messages import Fill
from cryptoj_actors.model import Liquidity, Order, OrderType, Side
from cryptoj_actors.money import round_quote
from cryptoj_actors.portfolio.ledger import (
    FillResult,
    Ledger,
    LedgerError,
    ReservationError,
)

D = Decimal
BTC = "BTC-USD"
ETH = "ETH-USD"
LTC = "LTC-USD"


def buy(coid: str, quote: str | Decimal | None, product: str = BTC, *,
        reduce_only: bool = False) -> Order:
    return Order(client_order_id=coid, product_id=product, side=Side.BUY,
                 order_type=OrderType.MARKET, quote_size=None if quote is None else D(quote),
                 reduce_only=reduce_only)


def sell(coid: str, base: str | Decimal | None, product: str = BTC) -> Order:
    return Order(client_order_id=coid, product_id=product, side=Side.SELL,
                 order_type=OrderType.MARKET, base_size=None if base is None else D(base))


def fill(coid: str, side: Side, size: str | Decimal, price: str | Decimal,
         fee: str | Decimal = "0", product: str = BTC, *, final: bool = True,
         fill_id: str | None = None) -> Fill:
    return Fill(sender="executor", ts_ns=1, fill_id=fill_id or f"{coid}-fill",
                client_order_id=coid, product_id=product, side=side, base_size=D(size),
                price=D(price), fee=D(fee), liquidity=Liquidity.TAKER, final=final)


def snap(ledger: Ledger, seq: int = 0):
    return ledger.snapshot(sender="portfolio", ts_ns=123, seq=seq)


def refusal(ledger: Ledger, order: Order) -> str:
    with pytest.raises(ReservationError) as info:
        ledger.reserve(order)
    return info.value.reason_code


# --- hand-computed cases ----------------------------------------------------------


def test_buy_then_partial_sell_then_the_rest():
    led = Ledger(D("10000"))

    led.reserve(buy("b1", "1000"))
    assert led.available_cash == D("9000")
    assert led.cash == D("10000")

    # 0.02 BTC at 40000: notional 800, fee 800 * 0.012 = 9.6, cost 809.6
    res = led.apply_fill(fill("b1", Side.BUY, "0.02", "40000", "9.6"))
    assert res == FillResult(D("0"), "")
    assert led.cash == D("9190.4")
    # the unspent 190.4 of the reservation is released by the final fill
    assert led.available_cash == D("9190.4")
    assert not led.is_open("b1")
    p = snap(led).position(BTC)
    assert p.base_size == D("0.02")
    assert p.cost_basis == D("800")
    assert p.avg_entry_price == D("40000")
    assert p.mark_price == D("40000")  # an unmarked position takes the fill price
    assert p.reserved_quote == 0
    assert led.fees == D("9.6")
    assert led.equity() == D("9990.4")
    assert led.unrealized_pnl() == D("0")

    led.mark(BTC, D("50000"))
    assert led.equity() == D("10190.4")
    assert led.unrealized_pnl() == D("200")

    # sell a quarter: 0.005 at 50000 = 250, fee 3; releases 800 * 0.005/0.02 = 200
    led.reserve(sell("s1", "0.005"))
    assert snap(led).position(BTC).reserved_base == D("0.005")
    res = led.apply_fill(fill("s1", Side.SELL, "0.005", "50000", "3"))
    assert res == FillResult(D("50"), "")
    assert led.cash == D("9437.4")
    p = snap(led).position(BTC)
    assert p.base_size == D("0.015")
    assert p.cost_basis == D("600")
    assert p.avg_entry_price == D("40000")
    assert p.realized_pnl == D("50")
    assert p.reserved_base == 0
    assert led.realized_pnl == D("50")
    assert led.fees == D("12.6")
    assert led.equity() == D("10187.4")
    assert led.unrealized_pnl() == D("150")

    # sell the rest at 45000: proceeds 675, fee 8.1, releases the whole 600 basis
    led.reserve(sell("s2", "0.015"))
    res = led.apply_fill(fill("s2", Side.SELL, "0.015", "45000", "8.1"))
    assert res == FillResult(D("75"), "")
    assert led.cash == D("10104.3")
    p = snap(led).position(BTC)
    assert p.base_size == 0
    assert p.cost_basis == 0
    assert p.avg_entry_price == 0
    assert p.realized_pnl == D("125")
    assert led.realized_pnl == D("125")
    assert led.fees == D("20.7")
    assert led.equity() == D("10104.3")
    assert led.unrealized_pnl() == 0
    assert led.available_cash == D("10104.3")
    # 10000 + 125 - 20.7 + 0 == 10104.3
    assert led.starting_cash + led.realized_pnl - led.fees + led.unrealized_pnl() == led.equity()
    led.check_invariants()


def test_partial_sell_releases_basis_rounded_half_even_to_the_quantum():
    led = Ledger(D("1000"))
    led.apply_fill(fill("b1", Side.BUY, "0.01", "100", fill_id="f1"))
    led.apply_fill(fill("b2", Side.BUY, "0.02", "100.01", fill_id="f2"))
    p = snap(led).position(BTC)
    assert p.cost_basis == D("3.0002")
    # 3.0002 / 3 = 1.0000666... -> 1.000066666667
    res = led.apply_fill(fill("s1", Side.SELL, "0.01", "110", "0.01"))
    assert res.realized_pnl == D("1.1") - D("1.000066666667")
    p = snap(led).position(BTC)
    assert p.cost_basis == D("2.000133333333")
    assert p.base_size == D("0.02")
    assert led.cash == D("1000") - D("3.0002") + D("1.1") - D("0.01")
    led.check_invariants()


def test_non_final_fill_keeps_the_rest_reserved_until_release():
    led = Ledger(D("10000"))
    led.reserve(buy("b1", "1000"))
    led.apply_fill(fill("b1", Side.BUY, "0.01", "40000", "4.8", final=False))
    # cost 404.8 comes out of the 1000 held; 595.2 still held
    assert led.cash == D("9595.2")
    assert led.available_cash == D("9000")  # spending drew the reservation down
    assert snap(led).position(BTC).reserved_quote == D("595.2")
    assert led.is_open("b1")
    assert led.release("b1") is True
    assert led.available_cash == D("9595.2")
    assert snap(led).position(BTC).reserved_quote == 0
    assert led.release("b1") is False
    led.check_invariants()


def test_release_of_a_sell_frees_the_base():
    led = Ledger(D("10000"))
    led.apply_fill(fill("b0", Side.BUY, "1", "100"))
    led.reserve(sell("s1", "0.4"))
    led.apply_fill(fill("s1", Side.SELL, "0.1", "100", final=False))
    assert snap(led).position(BTC).reserved_base == D("0.3")
    assert led.release("s1") is True
    assert snap(led).position(BTC).reserved_base == 0
    led.reserve(sell("s2", "0.9"))  # the whole remaining position is free again
    assert snap(led).position(BTC).reserved_base == D("0.9")


# --- refusals -----------------------------------------------------------------------


def test_insufficient_funds_counts_open_buys():
    led = Ledger(D("1000"))
    assert refusal(led, buy("b0", "1000.01")) == "INSUFFICIENT_FUNDS"
    led.reserve(buy("b1", "600"))
    assert refusal(led, buy("b2", "400.01", ETH)) == "INSUFFICIENT_FUNDS"
    led.reserve(buy("b3", "400", ETH))  # exactly the available cash is fine
    assert led.available_cash == 0
    assert not led.is_open("b0") and not led.is_open("b2")


def test_insufficient_position_counts_open_sells():
    led = Ledger(D("1000"))
    assert refusal(led, sell("s0", "0.00000001")) == "INSUFFICIENT_POSITION"
    led.apply_fill(fill("b", Side.BUY, "1", "10"))
    led.reserve(sell("s1", "0.7"))
    assert refusal(led, sell("s2", "0.30000001")) == "INSUFFICIENT_POSITION"
    led.reserve(sell("s3", "0.3"))
    assert snap(led).position(BTC).reserved_base == D("1")


def test_position_limit_counts_marked_position_and_open_buys():
    led = Ledger(D("10000"), max_position_fraction=D("0.10"))  # limit 1000 per product
    led.reserve(buy("b1", "600"))
    assert refusal(led, buy("b2", "400.01")) == "POSITION_LIMIT"
    led.reserve(buy("b3", "400"))  # 600 + 400 == 1000 is not past the limit
    # another product has its own limit
    led.reserve(buy("e1", "1000", ETH))
    # reduce-only buys skip the limit
    led.reserve(buy("b4", "1", reduce_only=True))
    for coid in ("b1", "b3", "b4"):
        assert led.release(coid) is True
    # a held position counts at its mark: 0.01 BTC at 50000 = 500 (equity ~ 10000)
    led.apply_fill(fill("x", Side.BUY, "0.01", "50000"))
    led.mark(BTC, D("50000"))
    assert led.equity() == D("10000")
    assert refusal(led, buy("b5", "500.01")) == "POSITION_LIMIT"
    led.reserve(buy("b6", "500"))


def test_no_position_limit_without_a_fraction():
    led = Ledger(D("10000"))
    led.reserve(buy("b1", "10000"))
    assert led.available_cash == 0


def test_duplicate_order_refused_while_open_and_allowed_after_release():
    led = Ledger(D("1000"))
    led.reserve(buy("b1", "10"))
    assert refusal(led, buy("b1", "10")) == "DUPLICATE_ORDER"
    assert refusal(led, sell("b1", "1")) == "DUPLICATE_ORDER"
    assert led.available_cash == D("990")
    led.release("b1")
    led.reserve(buy("b1", "10"))
    assert led.available_cash == D("990")


@pytest.mark.parametrize("order", [
    buy("x", None), buy("x", "0"), buy("x", "-5"), sell("x", None), sell("x", "0"),
    sell("x", "-1"),
])
def test_invalid_order(order):
    led = Ledger(D("1000"))
    led.apply_fill(fill("b", Side.BUY, "1", "10"))
    version = led.version
    assert refusal(led, order) == "INVALID_ORDER"
    assert not led.is_open("x")
    assert led.version == version
    assert led.available_cash == D("990")


def test_reservation_error_carries_code_and_detail():
    led = Ledger(D("100"))
    with pytest.raises(ReservationError) as info:
        led.reserve(buy("b1", "200"))
    assert isinstance(info.value, LedgerError)
    assert info.value.reason_code == "INSUFFICIENT_FUNDS"
    assert "b1" in info.value.detail and "200" in info.value.detail
    assert str(info.value).startswith("INSUFFICIENT_FUNDS: ")


def test_starting_cash_must_be_positive():
    with pytest.raises(ValueError):
        Ledger(D("0"))


# --- fills that do not match ---------------------------------------------------------


def test_sell_larger_than_the_position_raises_and_changes_nothing():
    led = Ledger(D("1000"))
    led.apply_fill(fill("b", Side.BUY, "1", "10", "0.1"))
    before = snap(led)
    with pytest.raises(LedgerError, match="position is 1"):
        led.apply_fill(fill("s", Side.SELL, "1.00000001", "10"))
    assert snap(led) == before


@pytest.mark.parametrize("size,price,fee", [("0", "1", "0"), ("1", "0", "0"), ("1", "1", "-0.01"),
                                            ("-1", "1", "0")])
def test_fill_with_bad_numbers_raises(size, price, fee):
    led = Ledger(D("1000"))
    with pytest.raises(LedgerError):
        led.apply_fill(fill("b", Side.BUY, size, price, fee))
    assert led.cash == D("1000")
    assert led.version == 0


def test_fill_for_an_unknown_order_is_booked_and_reported():
    led = Ledger(D("1000"))
    led.reserve(buy("b1", "100"))
    res = led.apply_fill(fill("ghost", Side.BUY, "2", "10", "0.5"))
    assert res == FillResult(D("0"), "fill for unknown order ghost")
    assert led.cash == D("979.5")
    assert led.available_cash == D("879.5")  # b1's reservation is untouched
    assert led.is_open("b1")
    assert snap(led).position(BTC).base_size == D("2")
    res = led.apply_fill(fill("ghost2", Side.SELL, "1", "12", "0.1"))
    assert res == FillResult(D("2"), "fill for unknown order ghost2")
    assert led.cash == D("991.4")
    led.check_invariants()


def test_buy_fill_costing_more_than_its_reservation_is_booked_and_reported():
    led = Ledger(D("1000"))
    led.reserve(buy("b1", "100"))
    led.reserve(buy("b2", "50"))
    res = led.apply_fill(fill("b1", Side.BUY, "0.01", "10000", "1.2", final=False))
    assert res == FillResult(D("0"), "fill cost 101.20 exceeds the reserved 100")
    assert led.cash == D("898.8")
    assert snap(led).position(BTC).reserved_quote == D("50")  # b1 spent, b2 still held
    assert led.available_cash == D("848.8")
    assert led.is_open("b1")
    led.apply_fill(fill("b1", Side.BUY, "0.0001", "10000", fill_id="f2"))
    assert led.available_cash == D("847.8")
    assert not led.is_open("b1")
    led.check_invariants()


# --- snapshots ------------------------------------------------------------------------


def test_snapshot_fields_and_versions():
    led = Ledger(D("10000"))
    assert led.version == 0
    led.mark(LTC, D("100"))
    assert led.version == 1
    led.reserve(buy("e1", "500", ETH))
    assert led.version == 2
    led.apply_fill(fill("e1", Side.BUY, "0.1", "2000", "2.4", ETH, final=False))
    assert led.version == 3
    led.apply_fill(fill("b", Side.BUY, "0.01", "30000", "3.6"))  # unknown order: no release
    assert led.version == 4
    led.reserve(sell("s1", "0.004"))
    assert led.version == 5
    led.mark(ETH, D("2100"))
    led.mark(BTC, D("31000"))
    assert led.version == 7
    with pytest.raises(ReservationError):
        led.reserve(buy("big", "1000000"))
    assert led.version == 7

    s = led.snapshot(sender="portfolio", ts_ns=555, seq=42)
    assert (s.sender, s.ts_ns, s.seq, s.version) == ("portfolio", 555, 42, 7)
    assert [p.product_id for p in s.positions] == [BTC, ETH, LTC]
    # cash 10000 - 202.4 - 303.6; e1 still holds 500 - 202.4 = 297.6
    assert s.cash == D("9494")
    assert s.available_cash == D("9196.4")
    assert s.fees == D("6")
    assert s.realized_pnl == 0
    # 9494 + 0.1 * 2100 + 0.01 * 31000
    assert s.equity == D("10014")
    assert s.unrealized_pnl == D("20")
    btc, eth, ltc = s.positions
    assert (btc.base_size, btc.cost_basis, btc.mark_price) == (D("0.01"), D("300"), D("31000"))
    assert btc.reserved_base == D("0.004") and btc.reserved_quote == 0
    assert btc.notional == D("310") and btc.unrealized_pnl == D("10")
    assert eth.reserved_quote == D("297.6") and eth.reserved_base == 0
    assert eth.avg_entry_price == D("2000")
    assert ltc.base_size == 0 and ltc.mark_price == D("100") and ltc.cost_basis == 0
    assert s.position("DOGE-USD") is None

    led.release("e1")
    assert led.version == 8
    assert led.snapshot(sender="portfolio", ts_ns=556, seq=43).available_cash == D("9494")
    assert s.available_cash == D("9196.4")  # the earlier snapshot is a frozen copy


def test_final_fill_with_reservation_counts_fill_and_release():
    led = Ledger(D("1000"))
    led.reserve(buy("b1", "100"))
    v = led.version
    led.apply_fill(fill("b1", Side.BUY, "1", "10"))
    assert led.version == v + 2


def test_mark_must_be_positive():
    led = Ledger(D("1000"))
    with pytest.raises(LedgerError):
        led.mark(BTC, D("0"))
    assert led.version == 0


# --- bugs -------------------------------------------------------------------------------


def test_available_cash_is_exact_like_the_snapshot():
    led = Ledger(D("100000000000000000"))
    led.apply_fill(fill("b", Side.BUY, "1", "1", "0.000000000001"))
    assert led.cash == D("99999999999999998.999999999999")
    assert led.available_cash == led.cash
    assert led.available_cash == snap(led).available_cash


def test_partial_sell_never_releases_more_than_the_basis():
    led = Ledger(D("1000"))
    # 0.000001 * 0.0000016 = 1.6e-12 (13 decimals)
    led.apply_fill(fill("b", Side.BUY, "0.000001", "0.0000016"))
    res = led.apply_fill(fill("s", Side.SELL, "0.00000099", "0.0000016"))
    p = snap(led).position(BTC)
    assert p.base_size == D("0.00000001")
    assert p.cost_basis >= 0
    assert res.realized_pnl >= -D("1e-12") / 2  # at most half a quantum of rounding


# --- properties ---------------------------------------------------------------------------

PRODUCTS = (BTC, ETH, LTC)
BASE_Q = D("0.00000001")
PRICE_Q = D("0.01")


def _half_even_1e12(value: Fraction) -> Decimal:
    """``value`` rounded half-even to 1e-12, without the decimal module."""
    return D(round(value * 10**12)).scaleb(-12)


def _floor(amount: Decimal, quantum: Decimal) -> Decimal:
    return amount.quantize(quantum, rounding=ROUND_DOWN)


prices = st.integers(1, 10_000_000).map(lambda n: D(n) * PRICE_Q)           # 0.01 .. 100000
fee_rates = st.integers(0, 250).map(lambda n: D(n) * D("0.0001"))            # 0 .. 2.5 %
fractions = st.integers(1, 100).map(lambda n: D(n) / 100)                    # 1 % .. 100 %


class Model:
    """What the test expects, kept independently of the ledger."""

    def __init__(self, cash: Decimal, products: tuple[str, ...]):
        self.start = cash
        self.cash = cash
        self.fees = D(0)
        self.base = {p: D(0) for p in products}
        self.bought = {p: D(0) for p in products}   # sum of buy notionals
        self.sold = {p: D(0) for p in products}     # sum of sell notionals
        self.cost = {p: D(0) for p in products}     # cost basis
        self.realized = {p: D(0) for p in products}
        self.mark: dict[str, Decimal] = {}
        self.open: dict[str, list] = {}             # coid -> [product, side, remaining]
        self.n = 0

    def coid(self) -> str:
        self.n += 1
        return f"o{self.n}"

    def reserved_quote(self, product: str | None = None) -> Decimal:
        return sum((r[2] for r in self.open.values()
                    if r[1] is Side.BUY and product in (None, r[0])), D(0))

    def reserved_base(self, product: str) -> Decimal:
        return sum((r[2] for r in self.open.values() if r[1] is Side.SELL and r[0] == product),
                   D(0))


def _check(led: Ledger, model: Model, products: tuple[str, ...]) -> None:
    led.check_invariants()
    s = led.snapshot(sender="p", ts_ns=0, seq=0)
    assert s.available_cash >= 0
    assert led.available_cash == s.available_cash
    # exact accounting identities
    assert led.starting_cash + led.realized_pnl - led.fees + led.unrealized_pnl() == led.equity()
    assert s.cash + sum((p.base_size * p.mark_price for p in s.positions), D(0)) == s.equity
    assert s.equity == led.equity()
    # against the independent model
    assert s.cash == model.cash
    assert s.fees == model.fees
    assert s.available_cash == model.cash - model.reserved_quote()
    realized = D(0)
    for pid in products:
        p = s.position(pid)
        if p is None:
            assert model.base[pid] == 0 and pid not in model.mark
            continue
        assert p.base_size == model.base[pid]
        assert p.mark_price == model.mark.get(pid, D(0))
        assert p.reserved_quote == model.reserved_quote(pid)
        assert p.reserved_base == model.reserved_base(pid)
        # basis released on sells is what the realized PnL gave up
        assert p.cost_basis - p.realized_pnl == model.bought[pid] - model.sold[pid]
        assert p.cost_basis == model.cost[pid]
        assert p.realized_pnl == model.realized[pid]
        assert p.cost_basis >= 0
        if p.base_size == 0:
            assert p.cost_basis == 0
        realized += p.realized_pnl
    assert s.realized_pnl == realized


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(),
       start=st.integers(100, 10_000_000).map(lambda n: D(n) * PRICE_Q),
       n_products=st.integers(1, 3))
def test_ledger_arithmetic_properties(data, start, n_products):
    products = PRODUCTS[:n_products]
    led = Ledger(start)
    model = Model(start, products)
    steps = data.draw(st.integers(1, 40), label="steps")
    for _ in range(steps):
        op = data.draw(st.sampled_from(["buy", "sell", "fill", "fill", "mark", "release"]),
                       label="op")
        if op == "buy":
            pid = data.draw(st.sampled_from(products), label="product")
            available = model.cash - model.reserved_quote()
            quote = _floor(available * data.draw(fractions, label="frac"), PRICE_Q)
            if quote <= 0:
                continue
            coid = model.coid()
            led.reserve(buy(coid, quote, pid))
            model.open[coid] = [pid, Side.BUY, quote]
        elif op == "sell":
            pid = data.draw(st.sampled_from(products), label="product")
            free = model.base[pid] - model.reserved_base(pid)
            base = _floor(free * data.draw(fractions, label="frac"), BASE_Q)
            if base <= 0:
                continue
            coid = model.coid()
            led.reserve(sell(coid, base, pid))
            model.open[coid] = [pid, Side.SELL, base]
        elif op == "fill":
            if not model.open:
                continue
            coid = data.draw(st.sampled_from(sorted(model.open)), label="order")
            pid, side, remaining = model.open[coid]
            price = data.draw(prices, label="price")
            rate = data.draw(fee_rates, label="fee_rate")
            frac = data.draw(fractions, label="frac")
            if side is Side.BUY:
                size = _floor(remaining * frac / (price * (1 + rate)), BASE_Q)
                while size > 0 and size * price + round_quote(size * price * rate) > remaining:
                    size -= BASE_Q
            else:
                size = remaining if frac == 1 else _floor(remaining * frac, BASE_Q)
            if size <= 0:
                continue
            fee = round_quote(size * price * rate)
            final = data.draw(st.booleans(), label="final")
            res = led.apply_fill(fill(coid, side, size, price, fee, pid, final=final,
                                      fill_id=f"{coid}-{model.n}-{steps}"))
            assert res.unexpected == ""
            notional = size * price
            if side is Side.BUY:
                model.cash -= notional + fee
                model.base[pid] += size
                model.bought[pid] += notional
                model.cost[pid] += notional
                model.open[coid][2] -= notional + fee
                assert res.realized_pnl == 0
            else:
                held = model.base[pid]
                released = (model.cost[pid] if size == held else
                            _half_even_1e12(Fraction(model.cost[pid]) * Fraction(size)
                                            / Fraction(held)))
                model.cost[pid] -= released
                model.realized[pid] += notional - released
                assert res.realized_pnl == notional - released
                model.cash += notional - fee
                model.base[pid] -= size
                model.sold[pid] += notional
                model.open[coid][2] -= size
            model.fees += fee
            model.mark.setdefault(pid, price)
            if final:
                del model.open[coid]
        elif op == "mark":
            pid = data.draw(st.sampled_from(products), label="product")
            price = data.draw(prices, label="price")
            led.mark(pid, price)
            model.mark[pid] = price
        else:  # release
            if not model.open:
                assert led.release("nothing") is False
                continue
            coid = data.draw(st.sampled_from(sorted(model.open)), label="order")
            assert led.release(coid) is True
            del model.open[coid]
        _check(led, model, products)
