"""docs/runbook.md as an operator follows it: every command block of every
section is run, in order, in a working directory beside a real system
(`run` processes on the replay server's real frames, a Coinbase REST venue
on 127.0.0.1 for the live sections). The steps the runbook says in words,
stop and start, are this module's."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pytest

from cryptoj_actors.admin.client import Endpoint, call, running_endpoint
from cryptoj_actors.runtime import COINBASE_LEDGER, LIVE_LEDGER
from cryptoj_actors.state.layout import StateDir
from tests.conftest import REPO, journal_count, load_script, wait_until
from tests.integration.test_journal_guard import damage
from tests.integration.test_live_feed import capture, direct_books  # noqa: F401
from tests.integration.test_live_trading import write_key

RUNBOOK = REPO / "docs" / "runbook.md"
server_script = load_script("exchange_server")
replay_server = load_script("replay_server")
PRODUCTS = ("BTC-USD", "ETH-USD")


def runbook_sections() -> dict[str, list[list[str]]]:
    """Section title -> its ``sh`` blocks -> their commands (a ``\\`` line
    joined to the next; comment lines dropped)."""
    sections: dict[str, list[list[str]]] = {}
    title = ""
    for part in re.split(r"^(#{2,3} .+)$", RUNBOOK.read_text(), flags=re.MULTILINE):
        if part.startswith("#"):
            title = part.lstrip("#").strip()
            continue
        for block in re.findall(r"^```sh\n(.*?)^```", part, re.MULTILINE | re.DOTALL):
            joined = block.replace("\\\n", " ").splitlines()
            commands = [line for line in joined if line.strip() and not line.startswith("#")]
            sections.setdefault(title, []).append(commands)
    return sections


#: The sections this module follows, each by one test.
FOLLOWED = {"Where it stands", "Halted by an operator", "Halted by the drawdown limit",
            "Halted by a failing actor", "After a crash", "A damaged journal",
            "Rotating keys", "From paper to live", "From live back to paper"}


def test_every_section_with_commands_is_followed_by_a_test():
    assert set(runbook_sections()) == FOLLOWED


@dataclass
class Desk:
    """The system's working directory, and what runs beside it."""

    path: Path
    feed_port: int
    rest: object
    procs: list[subprocess.Popen] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        # `python` is this interpreter; the test strategies import from the repository.
        return {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
                "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}

    def write_config(self, name: str = "cryptoj.toml", extra: str = "", *,
                     live: bool = False) -> Path:
        text = (f'[system]\nmode = "{"live" if live else "paper"}"\n'
                f'state_dir = "{"live" if live else "var"}"\n'
                f'[feed]\nurl = "ws://127.0.0.1:{self.feed_port}"\n'
                f'products = ["BTC-USD", "ETH-USD"]\nbar_interval_s = 1\n'
                f'[strategy]\nname = "tests.integration.test_live_feed:FivePercentEach"\n'
                f'[coinbase]\nrest_url = "{self.rest.url}"\ntimeout_s = 2.0\n'
                f'poll_interval_s = 0.2\n'
                + ('key_file = "keys/cdp_api_key.json"\n' if live else "")
                + "".join(f'[products.{p}]\nbase_increment = "0.00000001"\n'
                          f'quote_increment = "0.01"\nmin_base_size = "0.00000001"\n'
                          f'min_notional = "1"\n' for p in PRODUCTS) + extra)
        path = self.path / name
        path.write_text(text)
        return path

    # --- the steps the runbook says in words ----------------------------------------

    def start(self, config: str = "cryptoj.toml", *, live: bool = False) -> subprocess.Popen:
        """*Start it*, and wait until its admin interface answers."""
        proc = self._spawn(config, live)
        state = self.path / ("live" if live else "var")
        try:
            wait_until(lambda: proc.poll() is not None or self.endpoint(state) is not None,
                       timeout=40)
        except AssertionError:
            self.stop(proc)
            raise
        assert proc.poll() is None, proc.communicate()[1]
        return proc

    def refused_start(self, config: str = "cryptoj.toml") -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "cryptoj_actors", "run", "--config",
                               config, "--no-ui"], cwd=self.path, env=self.env,
                              capture_output=True, text=True, timeout=60, check=False)

    def stop(self, proc: subprocess.Popen) -> tuple[int, str]:
        """*Stop the system*: SIGINT, as the unit sends; its exit code and stderr."""
        proc.send_signal(signal.SIGINT)
        stderr = proc.communicate(timeout=60)[1]
        assert "Traceback" not in stderr, stderr
        return proc.returncode, stderr

    def _spawn(self, config: str, live: bool) -> subprocess.Popen:
        proc = subprocess.Popen(
            [sys.executable, "-m", "cryptoj_actors", "run", "--config", config, "--no-ui",
             *(["--live"] if live else [])], cwd=self.path, env=self.env,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.procs.append(proc)
        return proc

    def endpoint(self, state: Path) -> Endpoint | None:
        return running_endpoint(StateDir(state), "admin.token")

    def status(self, state: str = "var") -> dict:
        return call(self.endpoint(self.path / state), "GET", "/status")


class Reader:
    """Follows one section of the runbook, block by block."""

    def __init__(self, desk: Desk, section: str) -> None:
        self.desk, self.section = desk, section
        self.blocks = runbook_sections()[section]
        self.read = 0

    def block(self, until: dict[int, str] | None = None) -> list[subprocess.CompletedProcess]:
        """Run the next block's commands in the working directory. ``until``:
        command index -> a text the operator waits to see in its output (the
        command is run again until it shows, as one would re-run ``status``)."""
        results = []
        for i, command in enumerate(self.blocks[self.read]):
            def ran(command: str = command) -> subprocess.CompletedProcess:
                result = subprocess.run(["bash", "-c", command], cwd=self.desk.path,
                                        env=self.desk.env, capture_output=True, text=True,
                                        timeout=60, check=False)
                assert "Traceback" not in result.stdout + result.stderr, result.stderr
                return result

            result = ran()
            if until and i in until:
                def shown(text: str = until[i]) -> bool:
                    nonlocal result
                    result = ran()
                    return text in result.stdout
                wait_until(shown, timeout=30)
            results.append(result)
        self.read += 1
        return results

    def done(self) -> None:
        assert self.read == len(self.blocks), f"{self.section}: blocks left unread"


@pytest.fixture
def desk(capture, tmp_path):  # noqa: F811
    name, pem, public = server_script.make_key()
    prices = {p: (b.best_bid, b.best_ask) for p, b in direct_books(capture).items()}
    venue = server_script.Venue(balances={"USD": Decimal(5000)}, prices=prices)
    rest = server_script.ExchangeServer(venue, name, public).start()
    rest.key = (name, pem)
    work = tmp_path / "cryptoj"
    work.mkdir()
    (work / "conf").symlink_to(REPO / "conf")
    # At the recorded pace: a server that streams flat out accepts no second
    # connection (doctor's) while the system's is open.
    feed = replay_server.ReplayServer(capture, speed=1.0, loop=True)
    with replay_server.Running(feed):
        desk = Desk(work, feed.port, rest)
        desk.write_config()
        try:
            yield desk
        finally:
            for proc in desk.procs:
                if proc.poll() is None:
                    proc.kill()
                    proc.communicate()
            rest.stop()


def fills(desk: Desk, state: str = "var", ledger: str = LIVE_LEDGER) -> int:
    return journal_count(desk.path / state / "journal.sqlite3", "fills", ledger)


def out(result: subprocess.CompletedProcess) -> str:
    return result.stdout + result.stderr


def test_where_it_stands_and_an_operators_halt(desk):
    proc = desk.start()
    wait_until(lambda: fills(desk) > 0, timeout=40)

    reader = Reader(desk, "Where it stands")
    view, doc, log = reader.block()
    assert view.returncode == 0 and "ACTIVE" in view.stdout and "PAPER" in view.stdout
    assert json.loads(doc.stdout)["trading_state"]["level"] == "ACTIVE"
    assert log.returncode == 0 and all(" PAPER " in line for line in log.stdout.splitlines())
    assert log.stdout.strip()
    reader.done()

    reader = Reader(desk, "Halted by an operator")
    halt, status, resume = reader.block(until={1: "HALTED"})
    assert halt.returncode == 0 and "halts within a second" in halt.stdout
    assert "exchange maintenance at 14:00" in status.stdout
    assert resume.returncode == 0 and "resumed the running system" in resume.stdout
    assert desk.status()["trading_state"]["level"] == "ACTIVE"
    assert not (desk.path / "var" / "HALT").exists()
    reader.done()
    assert desk.stop(proc)[0] == 0


def test_a_drawdown_halt_is_looked_at_and_resumed(desk):
    # A limit a single fee reaches: the first buys halt it, and risk unwinds.
    desk.write_config(extra='[risk]\nmax_drawdown = "0.0001"\n')
    proc = desk.start()
    wait_until(lambda: desk.status()["trading_state"]["level"] == "HALTED", timeout=40)
    reader = Reader(desk, "Halted by the drawdown limit")
    status, report, resume = reader.block()
    assert "drawdown limit" in status.stdout
    assert report.returncode == 0 and "is running: its report as of now" in report.stdout
    assert resume.returncode == 0 and "resumed the running system" in resume.stdout
    reader.done()
    desk.stop(proc)


def test_a_failing_actor_halts_and_a_fixed_restart_resumes(desk):
    # The strategy fails once, and no restart is allowed: the budget is spent.
    desk.write_config(extra='[faults]\nrole = "strategy"\nat_batch = 3\n'
                            '[supervisor]\nmax_restarts = 0\n')
    proc = desk.start()
    wait_until(lambda: desk.status()["trading_state"]["level"] == "HALTED", timeout=40)
    reader = Reader(desk, "Halted by a failing actor")
    log, resume = reader.block()
    assert "strategy down" in log.stdout and "restart budget spent" in log.stdout
    assert resume.returncode == 2 and "refused" in resume.stderr
    code, _ = desk.stop(proc)
    assert code == 3  # a clean stop, HALTED

    desk.write_config()  # the cause fixed
    proc = desk.start()
    status, resume = reader.block()
    assert "restored at start" in status.stdout
    assert resume.returncode == 0 and "resumed the running system" in resume.stdout
    assert desk.status()["trading_state"]["level"] == "ACTIVE"
    reader.done()
    assert desk.stop(proc)[0] == 0


def positions(doc: dict) -> dict[str, str]:
    """Product -> base size held, from a status document (none before the first mark)."""
    return {p["product_id"]: p["base_size"]
            for p in doc.get("portfolio", {}).get("positions", []) if Decimal(p["base_size"])}


def test_after_a_crash_and_with_a_damaged_journal(desk):
    proc = desk.start()
    wait_until(lambda: fills(desk) >= 2 and len(positions(desk.status())) == 2, timeout=40)
    before = positions(desk.status())
    proc.kill()  # a crash: no clean stop
    proc.communicate()

    reader = Reader(desk, "After a crash")
    (doctor,) = reader.block()
    assert doctor.returncode == 0 and "journal backup" in doctor.stdout
    backups = desk.path / "var" / "backups"
    taken = set(backups.glob("journal-*.sqlite3"))
    proc = desk.start()
    (status,) = reader.block()
    assert status.returncode == 0
    # the ledger rebuilt from the journal (5 % each stays within its threshold)
    wait_until(lambda: positions(desk.status()) == before, timeout=20)
    reader.done()
    wait_until(lambda: set(backups.glob("journal-*.sqlite3")) - taken, timeout=20)
    assert desk.stop(proc)[0] == 0

    damage(desk.path / "var" / "journal.sqlite3", "header")
    refused = desk.refused_start()
    assert refused.returncode == 2 and len(refused.stderr.splitlines()) == 1, refused.stderr
    assert "journal.sqlite3" in refused.stderr
    reader = Reader(desk, "A damaged journal")
    first, mkdir, move, copy, second = reader.block()
    assert first.returncode == 1 and "FAIL" in first.stdout
    assert (mkdir.returncode, move.returncode, copy.returncode) == (0, 0, 0)
    assert (desk.path / "var" / "damaged" / "journal.sqlite3").exists()
    assert second.returncode == 0 and "opens:" in second.stdout, second.stdout
    reader.done()
    proc = desk.start()
    # the backup taken at the last start holds every fill
    wait_until(lambda: positions(desk.status()) == before, timeout=20)
    assert desk.stop(proc)[0] == 0


def test_paper_to_live_rotating_keys_and_back_to_paper(desk):
    rest = desk.rest
    keys = desk.path / "keys"
    keys.mkdir()
    write_key(keys / "cdp_api_key.json", *rest.key)

    reader = Reader(desk, "From paper to live")
    (copy,) = reader.block()
    assert copy.returncode == 0 and (desk.path / "live.toml").exists()
    desk.write_config("live.toml", live=True)  # edited: the key file, the venue
    (doctor,) = reader.block()
    assert doctor.returncode == 0 and doctor.stdout.splitlines()[-1] == \
        "nothing stands in the way", doctor.stdout
    reader.done()
    proc = desk.start("live.toml", live=True)
    wait_until(lambda: fills(desk, "live", COINBASE_LEDGER) > 0, timeout=40)

    # A new key, accepted beside the old one until the old is deleted.
    name, pem, public = server_script.make_key()
    rest.keys[name] = public
    write_key(desk.path / "new_cdp_api_key.json", name, pem, mode=0o644)
    reader = Reader(desk, "Rotating keys")
    install, remove, doctor = reader.block()
    assert (install.returncode, remove.returncode) == (0, 0)
    assert (keys / "cdp_api_key.json").stat().st_mode & 0o777 == 0o600
    assert doctor.returncode == 0 and "OK   key accepted" in doctor.stdout, doctor.stdout
    assert desk.stop(proc)[0] == 0
    old_token = (desk.path / "live" / "admin.token").read_text()
    (remove_token,) = reader.block()
    assert remove_token.returncode == 0
    reader.done()
    del rest.keys[rest.key[0]]  # the old key deleted in the portal
    traded = fills(desk, "live", COINBASE_LEDGER)
    seen = len(rest.seen)
    proc = desk.start("live.toml", live=True)
    assert (desk.path / "live" / "admin.token").read_text() != old_token
    wait_until(lambda: any(s.claims and s.claims["sub"] == name for s in rest.seen[seen:]),
               timeout=30)
    assert all(s.authorized for s in rest.seen[seen:])  # the new key, accepted
    assert fills(desk, "live", COINBASE_LEDGER) >= traded

    reader = Reader(desk, "From live back to paper")
    halt, status = reader.block(until={1: "HALTED"})
    assert halt.returncode == 0 and "back to paper" in status.stdout
    wait_until(lambda: not positions(desk.status("live")), timeout=40)
    reader.done()
    assert desk.stop(proc)[0] == 3  # stopped while HALTED
    proc = desk.start("cryptoj.toml")
    assert desk.status()["run"]["trading"] == "PAPER"
    assert desk.stop(proc)[0] == 0
