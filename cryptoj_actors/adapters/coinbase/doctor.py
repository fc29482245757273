"""``doctor``: what stands between this machine and trading, said plainly.

Each check gives a status (``OK``, ``WARN``, ``FAIL``) and one line. The
checks: the state directory is writable; the newest journal backup opens
and holds no fill the journal lacks; the API key (format, file mode);
the REST API answers and the clock agrees with the venue's (a JWT is valid
for 120 s from its ``nbf``: a clock off by more than :data:`SKEW_FAIL_S`
makes every private request fail); the key is accepted; every configured
product is online with the increments the config assumes; the market-data
websocket answers a subscription.
"""

from __future__ import annotations

import enum
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass

import orjson
import websocket

from cryptoj_actors.adapters.coinbase.credentials import (
    ENV_KEY_NAME,
    ENV_PRIVATE_KEY,
    Credentials,
    CredentialsError,
    load_credentials,
)
from cryptoj_actors.adapters.coinbase.orders import ShapeError, parse_balances
from cryptoj_actors.adapters.coinbase.rest import (
    AuthenticationError,
    CoinbaseError,
    RestClient,
)
from cryptoj_actors.config import Config
from cryptoj_actors.money import to_decimal
from cryptoj_actors.state.backup import check_backup
from cryptoj_actors.state.layout import StateDir

#: Clock skew against the venue (seconds) that is reported, and that fails.
SKEW_WARN_S = 2.0
SKEW_FAIL_S = 30.0
#: Seconds the websocket check waits for its first frame.
WEBSOCKET_TIMEOUT_S = 10.0


class CheckStatus(str, enum.Enum):
    """How one check came out."""

    OK = "OK"
    WARN = "WARN"
    FAIL = "FAIL"


@dataclass(frozen=True, slots=True)
class Finding:
    check: str
    status: CheckStatus
    detail: str


def diagnose(config: Config) -> Iterator[Finding]:
    """Run every check, yielding findings as they come (network checks take
    a moment each)."""
    yield _state_dir(config)
    yield _backup(config)
    credentials: Credentials | None = None
    try:
        credentials = load_credentials(config.coinbase.key_file)
    except CredentialsError as exc:
        yield Finding("api key", CheckStatus.FAIL, str(exc))
    else:
        if credentials is None:
            yield Finding("api key", CheckStatus.WARN, f"none configured (coinbase.key_file or "
                          f"{ENV_KEY_NAME}/{ENV_PRIVATE_KEY}): paper trading needs none, "
                          f"--live does")
        else:
            yield Finding("api key", CheckStatus.OK, f"{credentials.label} (EC P-256, from "
                          f"{credentials.source})")
    rest = RestClient(config.coinbase, credentials)
    try:
        reachable = False
        for finding in _rest(config, rest):
            reachable = reachable or (finding.check, finding.status) == ("rest api",
                                                                          CheckStatus.OK)
            yield finding
        if credentials is not None and reachable:
            yield _private(rest)
    finally:
        rest.close()
    yield _websocket(config)


def _state_dir(config: Config) -> Finding:
    folder = config.system.state_dir
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder):
            pass
    except OSError as exc:
        return Finding("state directory", CheckStatus.FAIL, f"{folder}: not writable "
                       f"({exc.strerror})")
    return Finding("state directory", CheckStatus.OK, f"{folder} is writable")


def _backup(config: Config) -> Finding:
    """The newest journal backup opens and holds no fill the journal lacks."""
    folder = StateDir(config.system.state_dir)
    if not folder.journal.exists():
        return Finding("journal backup", CheckStatus.OK, "no journal yet: nothing to back up")
    found = check_backup(folder.journal, folder.backups)
    if found.backup is None:
        return Finding("journal backup", CheckStatus.WARN, f"{found.problem}: a live start "
                       "takes one (system.backups)")
    if found.problem:
        return Finding("journal backup", CheckStatus.FAIL, f"{found.problem}: keep the "
                       "journal and the backup aside and look before trading")
    return Finding("journal backup", CheckStatus.OK,
                   f"{found.backup.name} opens: {found.backup_fills} fills, all in the journal "
                   f"({found.journal_fills} now)")


def _rest(config: Config, rest: RestClient) -> Iterator[Finding]:
    url = config.coinbase.rest_url
    try:
        before = time.time()
        answer = rest.server_time()
        after = time.time()
    except CoinbaseError as exc:
        yield Finding("rest api", CheckStatus.FAIL, f"{url} does not answer: {exc}")
        return
    try:
        venue = float(answer["epochSeconds"])
    except (KeyError, TypeError, ValueError):
        yield Finding("rest api", CheckStatus.FAIL, f"{url}/api/v3/brokerage/time: unexpected "
                      f"answer {answer!r}")
        return
    yield Finding("rest api", CheckStatus.OK, f"{url} answers")
    # The venue's clock counts whole seconds: the local midpoint is compared.
    skew = (before + after) / 2 - venue
    status = CheckStatus.FAIL if abs(skew) > SKEW_FAIL_S else \
        CheckStatus.WARN if abs(skew) > SKEW_WARN_S else CheckStatus.OK
    advice = "; JWTs would be refused: set the clock (NTP)" if status is CheckStatus.FAIL else ""
    yield Finding("clock", status, f"{skew:+.1f} s against the venue{advice}")
    for product_id in config.feed.products:
        yield _product(config, rest, product_id)


def _product(config: Config, rest: RestClient, product_id: str) -> Finding:
    try:
        answer = rest.public_product(product_id)
    except CoinbaseError as exc:
        return Finding(f"product {product_id}", CheckStatus.FAIL, str(exc))
    if answer.get("trading_disabled") or answer.get("is_disabled") or \
            answer.get("status", "online") != "online":
        return Finding(f"product {product_id}", CheckStatus.FAIL,
                       f"not tradable now (status {answer.get('status')!r}, trading_disabled "
                       f"{answer.get('trading_disabled')})")
    rules = config.rules(product_id)
    differences = []
    for field, ours in (("base_increment", rules.base_increment),
                        ("quote_increment", rules.quote_increment)):
        theirs = answer.get(field)
        try:
            differs = theirs is not None and to_decimal(str(theirs), field) != ours
        except ValueError:
            differs = True
        if differs:
            differences.append(f"{field} is {theirs} there, {ours} in the config")
    if differences:
        return Finding(f"product {product_id}", CheckStatus.WARN, "; ".join(differences))
    return Finding(f"product {product_id}", CheckStatus.OK, f"online, price {answer.get('price')}")


def _private(rest: RestClient) -> Finding:
    try:
        accounts = rest.accounts()
        held = [b.currency for b in parse_balances(accounts) if b.available > 0]
    except AuthenticationError as exc:
        return Finding("key accepted", CheckStatus.FAIL, f"the venue refused the key ({exc}): "
                       f"wrong or revoked key, missing view permission, or the clock")
    except CoinbaseError as exc:
        return Finding("key accepted", CheckStatus.FAIL, str(exc))
    except ShapeError as exc:
        return Finding("key accepted", CheckStatus.WARN, f"accounts read, but {exc}")
    return Finding("key accepted", CheckStatus.OK, f"{len(accounts)} accounts"
                   + (f", holding {', '.join(held)}" if held else ", all empty"))


def _websocket(config: Config) -> Finding:
    url = config.feed.url
    try:
        ws = websocket.create_connection(url, timeout=WEBSOCKET_TIMEOUT_S)
    except (OSError, websocket.WebSocketException) as exc:
        return Finding("market data", CheckStatus.FAIL, f"{url}: cannot connect ({exc})")
    try:
        ws.send(orjson.dumps({"type": "subscribe", "channel": "heartbeats"}).decode())
        first = ws.recv()
    except (OSError, websocket.WebSocketException) as exc:
        return Finding("market data", CheckStatus.FAIL, f"{url}: no data after subscribing ({exc})")
    finally:
        ws.close()
    try:
        channel = orjson.loads(first).get("channel")
    except (orjson.JSONDecodeError, AttributeError):
        channel = None
    if channel is None:
        return Finding("market data", CheckStatus.WARN, f"{url}: answered, but not with a frame")
    return Finding("market data", CheckStatus.OK, f"{url}: subscribed, first frame on {channel!r}")
