"""Benchmark: what the managers' digest adds to a run of the main job, with 10,000 clients.

Builds bench_team.py's project (10,000 clients, 50,000 actions, five managers, now
with e-mail addresses), starts a real SMTP server (aiosmtpd) on 127.0.0.1 and times:

- the check a quiet tick makes (notify.digest_due: the team database, standard library),
  before the list's digests and after them;
- one round of digests (digest.send_digests: read the list, join owners, snoozes and
  the holdout, work out each manager's top, claim, send five e-mails).

No target in issue 21 beyond "never blocking the tick": the round runs once per
published list, after the run's work, and its sends are bounded by notify_timeout_s.

    python bench/bench_digest.py
"""
from __future__ import annotations

import json
import logging
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import bench_team  # noqa: E402

import generate_data  # noqa: E402
from risk import config, notify  # noqa: E402
from risk.serving import accounts, digest  # noqa: E402
from risk.serving.localserver import free_port  # noqa: E402
from risk.teamdb import TeamDb  # noqa: E402


def measure() -> dict:
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Sink

    class Count(Sink):
        received = 0

        async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
            Count.received += 1
            return "250 OK"

    port = free_port()
    smtp = Controller(Count(), hostname="127.0.0.1", port=port)
    smtp.start()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-digest-") as tmp:
            cfg, _, _ = bench_team.team_project(Path(tmp))
            raw = json.loads(cfg.path.read_text())
            cfg.path.write_text(json.dumps({**raw, "manager_digest": True, "notify_smtp_host": "127.0.0.1",
                                            "notify_smtp_port": port}))
            cfg = config.load(cfg.path)
            with TeamDb(cfg.team_db_path) as db:
                for name in generate_data.MANAGERS:
                    accounts.set_email(db, name, f"{name}@example.com", "bench")
            start = time.perf_counter()
            key = notify.digest_due(cfg)
            due_s = time.perf_counter() - start
            start = time.perf_counter()
            lines = digest.send_digests(cfg, key)
            round_s = time.perf_counter() - start
            start = time.perf_counter()
            again = notify.digest_due(cfg)
            quiet_s = time.perf_counter() - start
    finally:
        smtp.stop()
    return {"clients": 10_000, "managers": len(generate_data.MANAGERS), "due_check_ms": 1000 * due_s,
            "round_s": round_s, "quiet_check_ms": 1000 * quiet_s, "mails": Count.received,
            "due_again": again, "lines": lines}


def main() -> int:
    logging.basicConfig(level=logging.WARNING)
    r = measure()
    print(f"{r['clients']:,} clients, {r['managers']} managers with e-mail: a quiet tick's check "
          f"{r['quiet_check_ms']:.1f} ms (before the list's digests {r['due_check_ms']:.1f} ms); one round of "
          f"digests {r['round_s']:.2f} s, {r['mails']} e-mails received by the SMTP server; due again: {r['due_again']}")
    print("\n".join(r["lines"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
