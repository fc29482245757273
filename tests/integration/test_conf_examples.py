"""The commented examples in conf/ are valid configs and do what they say."""

from __future__ import annotations

import json
import re
import shlex
from decimal import Decimal

from cryptoj_actors.config import load_config
from tests.conftest import DATA_DIR, REPO
from tests.integration.test_cli import cli, run_dir_of

CONF = REPO / "conf"


def test_the_live_example_is_live_and_tighter_than_the_defaults():
    example, default = load_config(CONF / "live.example.toml"), load_config(CONF / "default.toml")
    assert example.system.mode == "live" and example.coinbase.key_file is not None
    assert example.admin.port == 8787  # what conf/prometheus/prometheus.yml scrapes
    assert example.alerts.urls and example.alerts.fills
    assert example.supervisor.auto_resume_after_s == 0
    for key in ("max_position_fraction", "daily_loss_limit", "max_drawdown"):
        assert getattr(example.risk, key) < getattr(default.risk, key), key
    # The strategy asks for less than risk allows, so that its orders are not denied.
    assert Decimal(str(example.strategy.params["max_weight"])) < \
        example.risk.max_position_fraction


def test_the_minute_example_replays_the_minute_files_as_its_comment_says(minute_trade_files,
                                                                        tmp_path):
    text = (CONF / "minute.toml").read_text()
    printed = re.search(r"#   (python -m cryptoj_actors replay .*?)\n(?!#  )", text,
                        re.DOTALL).group(1)
    args = shlex.split(printed.replace("\\\n#", " "))[3:]
    args = [a.replace("../shared/data", str(DATA_DIR)) for a in args]
    assert args[:2] == ["replay", "--config"] and len(args) == 5

    result = cli(*args, "--state-dir", str(tmp_path), "--no-ui")
    assert result.returncode == 0, result.stderr
    assert "2,449 intervals of one minute" in result.stdout
    report = json.loads((run_dir_of(tmp_path) / "report.json").read_text())
    assert report["run"]["bar_interval_s"] == 60
    assert report["performance"]["number_of_trades"] > 20
    assert all(report["cross_checks"].values())
