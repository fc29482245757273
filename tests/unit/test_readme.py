"""The README's strategy example works as printed."""

from __future__ import annotations

import re
import sys
import tomllib
import types
from decimal import Decimal

from cryptoj_actors.config import StrategyConfig
from cryptoj_actors.marketdata.replay import BarReplaySource
from cryptoj_actors.strategy.base import load_strategy
from tests.conftest import REPO, window


def test_the_readme_strategy_example_loads_and_trades(aligned_real, monkeypatch):
    text = (REPO / "README.md").read_text()
    code = re.search(r"```python\n(# mystrategies\.py\n.*?)```", text, re.S).group(1)
    conf = tomllib.loads(re.search(r"```toml\n(\[strategy\].*?)```", text, re.S).group(1))
    module = types.ModuleType("mystrategies")
    exec(compile(code, "README.md", "exec"), module.__dict__)
    monkeypatch.setitem(sys.modules, "mystrategies", module)

    strategy = load_strategy(StrategyConfig(**conf["strategy"]), aligned_real.products)
    source = BarReplaySource(window(aligned_real, "2017-10-15T00:00:00", 50))
    intents = [i for seq in range(1, 51) for i in strategy.on_batch(source.next_batch(seq, 0))]
    assert len(intents) == 150
    assert {i.target_weight for i in intents} <= {Decimal("0.05"), Decimal(0)}
    assert any(i.target_weight for i in intents)
