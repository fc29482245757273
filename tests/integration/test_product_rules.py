"""Products: a replay says when ``[feed] products`` names products its files
do not hold, and when a product trades with generic rules; real orders are
refused for a product without its trading rules."""

from __future__ import annotations

import os
import subprocess
import sys

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from cryptoj_actors.adapters.coinbase.credentials import ENV_KEY_NAME, ENV_PRIVATE_KEY
from tests.conftest import REPO
from tests.integration.test_cli import cli, free_port, real_slice  # noqa: F401


def test_a_replay_names_the_products_it_ignores_and_those_with_generic_rules(
        real_slice, tmp_path):  # noqa: F811
    config = tmp_path / "typo.toml"
    config.write_text('[feed]\nproducts = ["BTC-USDD"]\n')
    result = cli("replay", "--config", str(config), "--state-dir", str(tmp_path), "--no-ui",
                 *map(str, real_slice[:1]))
    assert result.returncode == 0, result.stderr
    assert (f"note: [feed] products BTC-USDD of {config} are not in the replayed files: "
            "the replay trades BTC-USD") in result.stderr
    assert f"note: no [products.X] table for BTC-USD in {config}: generic trading rules" \
        in result.stderr


def test_real_orders_are_refused_for_a_product_without_its_trading_rules(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption()).decode()
    config = tmp_path / "live.toml"
    config.write_text('[system]\nmode = "live"\n[feed]\nproducts = ["BTC-USD", "LTC-USD"]\n'
                      '[products.BTC-USD]\nbase_increment = "0.00000001"\n')
    env = {**os.environ, ENV_KEY_NAME: "organizations/0c7d3b6e-8c1a-4c36-9f6e-1d2b3c4d5e6f/apiKeys/1a2b3c4d-5e6f-4a1b-8c9d-0e1f2a3b4c5d", ENV_PRIVATE_KEY: key}
    result = subprocess.run([sys.executable, "-m", "cryptoj_actors", "run", "--live",
                             "--config", str(config), "--state-dir", str(tmp_path),
                             "--feed-url", f"ws://127.0.0.1:{free_port()}"], cwd=REPO,
                            capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"error: config {config}: products.LTC-USD: missing: real orders need each "
        "product's trading rules (base_increment, quote_increment, min_base_size, "
        "min_notional from GET /api/v3/brokerage/market/products/{product_id})")
