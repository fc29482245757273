"""The order life cycle as one table (cryptoj_actors.model.ORDER_TRANSITIONS)."""

from __future__ import annotations

import itertools

import pytest

from cryptoj_actors.model import (
    ORDER_TRANSITIONS,
    InvalidTransition,
    OrderStatus,
    check_transition,
)

S = OrderStatus
ENDS = (S.FILLED, S.CANCELLED, S.REJECTED, S.EXPIRED, S.DENIED)

#: Every move the system makes, and where.
ALLOWED = {
    # the venue's answer to a submit; a halt rejects before sending
    (S.PENDING, S.OPEN), (S.PENDING, S.REJECTED), (S.PENDING, S.UNKNOWN),
    # an order journaled PENDING and adopted after a restart: whatever the
    # venue lists for it (or, on paper, EXPIRED)
    (S.PENDING, S.PARTIALLY_FILLED), (S.PENDING, S.FILLED), (S.PENDING, S.CANCELLED),
    (S.PENDING, S.EXPIRED),
    # an UNKNOWN order looked up (the venue may itself say UNKNOWN), or never listed
    (S.UNKNOWN, S.UNKNOWN), (S.UNKNOWN, S.OPEN), (S.UNKNOWN, S.PARTIALLY_FILLED),
    (S.UNKNOWN, S.FILLED), (S.UNKNOWN, S.CANCELLED), (S.UNKNOWN, S.EXPIRED),
    (S.UNKNOWN, S.REJECTED),
    # an open order polled; OPEN again when a restarted replay re-sends it
    (S.OPEN, S.OPEN), (S.OPEN, S.PARTIALLY_FILLED), (S.OPEN, S.FILLED),
    (S.OPEN, S.CANCELLED), (S.OPEN, S.EXPIRED), (S.OPEN, S.REJECTED), (S.OPEN, S.UNKNOWN),
    # more fill, an end, or the venue no longer knowing
    (S.PARTIALLY_FILLED, S.PARTIALLY_FILLED), (S.PARTIALLY_FILLED, S.FILLED),
    (S.PARTIALLY_FILLED, S.CANCELLED), (S.PARTIALLY_FILLED, S.EXPIRED),
    (S.PARTIALLY_FILLED, S.REJECTED), (S.PARTIALLY_FILLED, S.UNKNOWN),
}
PAIRS = list(itertools.product(S, S))


def test_the_table_names_every_status():
    assert set(ORDER_TRANSITIONS) == set(S)
    assert all(isinstance(nxt, frozenset) for nxt in ORDER_TRANSITIONS.values())
    with pytest.raises(TypeError):
        ORDER_TRANSITIONS[S.FILLED] = frozenset({S.OPEN})  # type: ignore[index]


@pytest.mark.parametrize("current,new", PAIRS, ids=lambda s: s.name)
def test_a_move_is_allowed_exactly_when_the_table_says_so(current, new):
    allowed = (current, new) in ALLOWED
    assert current.can_become(new) is allowed
    if allowed:
        check_transition(current, new, "o-1")
    else:
        with pytest.raises(InvalidTransition) as raised:
            check_transition(current, new, "o-1")
        assert (raised.value.current, raised.value.new) == (current, new)
        assert raised.value.client_order_id == "o-1"


@pytest.mark.parametrize("end", ENDS, ids=lambda s: s.name)
def test_every_end_refuses_every_move(end):
    assert end.is_terminal
    assert ORDER_TRANSITIONS[end] == frozenset()
    for new in S:
        with pytest.raises(InvalidTransition):
            check_transition(end, new)


def test_the_ends_are_the_terminal_statuses():
    assert {s for s in S if s.is_terminal} == set(ENDS)


def test_nothing_leads_back_to_pending_or_to_denied():
    for current in S:
        assert not current.can_become(S.PENDING)
        assert not current.can_become(S.DENIED)


def test_a_fill_is_never_taken_back():
    assert not S.PARTIALLY_FILLED.can_become(S.OPEN)


def test_the_error_names_the_move_and_the_order():
    with pytest.raises(InvalidTransition, match="FILLED -> OPEN for client order id rp-1"):
        check_transition(S.FILLED, S.OPEN, "rp-1")
    assert str(InvalidTransition(S.EXPIRED, S.FILLED)).endswith("EXPIRED -> FILLED")
    assert isinstance(InvalidTransition(S.EXPIRED, S.FILLED), ValueError)
