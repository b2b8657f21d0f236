"""kill -9 at random instants (docs/design.md §10: "a crash at any instant loses no occurrence and launches
none twice"), on SQLite and PostgreSQL.

Three campaigns per store, each seeded:

1. ``publish`` of every definition at once into a fresh store, killed until one finishes: each
   kill leaves all of them or none (the first kills land in the creation of the schema).
2. ``clockwf tick --now T`` over 30 rehearsed days of schedules under ``catchup: all`` with a
   wide window (recurring in several zones across DST changes, jitter, a small max_catchup,
   overlap skip, one-time), killed at random points of their life; the next process ticks at the
   same instant or a later one. After every process the store must be consistent (no fire key
   twice, every schedule's runs and skip records exactly its occurrences before
   next_nominal_at); at the end, ticked to the end of the span: nothing lost, nothing behind.
3. ``clockwf daemon`` (real clock, executing two trivial steps per run that append to a marker
   file) over schedules with a backlog, killed again and again; then a recovery daemon runs until
   idle. Then no run is queued or running (the dead daemons' runs end ``interrupted`` once their
   leases expire), no step ran twice, nothing lost or behind.

Most processes are forked from a pre-imported zygote (so kills land in the work rather than in
imports; the zygote traces transactions, so the figures say how many kills landed inside an
open write transaction); every few cycles a real ``python -m clockwf`` process is killed
instead. Sizes: CI by default, ``CLOCKWF_FAULTS_FULL=1`` for the long run. The figures are
printed (``pytest -s``).
"""

from __future__ import annotations

import json
import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from clockwf.schedule import Occurrence

from .faultkit import (
    FULL,
    Delays,
    Expected,
    ForkServer,
    KillStats,
    Outcome,
    RawDb,
    check_runs_settled,
    check_schedules,
    child_env,
    iso_z,
    run_exec,
    ts,
    utc,
    wait_for,
)

pytestmark = pytest.mark.slow

SEED = 20311108
TICK_KILLS = 600 if FULL else 110        # per store
DAEMON_KILLS = 150 if FULL else 20       # per store
PUBLISH_KILLS = 12
EXEC_EVERY = 9                           # every 9th process is a real `python -m clockwf`
P_KILL = 0.75

T0 = utc("2031-03-08T00:00:00Z")         # US spring-forward 03-09, EU 03-30, Sydney fall-back 04-06
SPAN = timedelta(days=30)


def recurring(wid: str, cron: str, zone: str = "UTC", *, dst: str | None = None,
              jitter: str | None = None, max_catchup: int = 100, overlap: str = "allow",
              window: str = "90d", steps: str = "steps:\n  - run: 'true'\n") -> str:
    trigger = f"  type: recurring\n  cron: '{cron}'\n  timezone: {zone}\n"
    if dst:
        trigger += f"  dst: {{{dst}}}\n"
    if jitter:
        trigger += f"  jitter: {jitter}\n"
    return (f"id: {wid}\ntrigger:\n{trigger}policy:\n  catchup: all\n  catchup_window: {window}\n"
            f"  max_catchup: {max_catchup}\n  overlap: {overlap}\n{steps}")


def one_time(wid: str, run_at: datetime, *, window: str = "90d",
             steps: str = "steps:\n  - run: 'true'\n") -> str:
    return (f"id: {wid}\ntrigger:\n  type: schedule\n  run_at: '{iso_z(run_at)}'\n"
            f"policy:\n  catchup: all\n  catchup_window: {window}\n{steps}")


def tick_definitions() -> dict[str, str]:
    defs = {
        "quarter-utc": recurring("quarter-utc", "*/15 * * * *"),
        "ny-0230": recurring("ny-0230", "30 2 * * *", "America/New_York"),
        "ny-0230-skip": recurring("ny-0230-skip", "30 2 * * *", "America/New_York",
                                  dst="gap: skip"),
        "ny-hourly": recurring("ny-hourly", "15 * * * *", "America/New_York"),
        "ny-weekdays": recurring("ny-weekdays", "0 9 * * 1-5", "America/New_York"),
        "london-0130": recurring("london-0130", "30 1 * * *", "Europe/London"),
        "sydney-0230-twice": recurring("sydney-0230-twice", "30 2 * * *", "Australia/Sydney",
                                       dst="fold: twice"),
        "sydney-0230-once": recurring("sydney-0230-once", "30 2 * * *", "Australia/Sydney"),
        "kolkata-daily": recurring("kolkata-daily", "@daily", "Asia/Kolkata"),
        "weekly": recurring("weekly", "@weekly"),
        "jitter-2h": recurring("jitter-2h", "0 */2 * * *", jitter="5m"),
        "slow-catchup": recurring("slow-catchup", "0 */6 * * *", max_catchup=2),
        "overlap-skip": recurring("overlap-skip", "0 */3 * * *", overlap="skip"),
    }
    for i in range(4 if FULL else 2):
        defs[f"hourly-{i}"] = recurring(f"hourly-{i}", f"{i * 7 % 60} * * * *")
    for i, offset in enumerate((timedelta(days=3, hours=5), timedelta(days=17, minutes=30),
                                timedelta(days=29, hours=23))):
        defs[f"once-{i}"] = one_time(f"once-{i}", T0 + offset)
    return defs


def tick_launches(exp: Expected, occ: Occurrence) -> bool:
    """With catchup: all and nothing ever executed: every firing occurrence launches, except
    that overlap: skip launches only the first (its run stays queued) and a DST gap under
    gap: skip is recorded skipped."""
    if not occ.fires:
        return False
    if exp.spec.overlap == "skip":
        return occ is next(o for o in exp.occurrences if o.fires)
    return True


def fingerprint(db: RawDb, ns: str) -> tuple[Any, ...]:
    with db.snapshot():
        rows = db.query("SELECT (SELECT count(*) FROM runs WHERE namespace = ?) AS runs, "
                        "(SELECT count(*) FROM skipped_occurrences WHERE namespace = ?) "
                        "AS skips", [ns, ns])
        positions = db.query("SELECT workflow_id, next_nominal_at FROM schedules "
                             "WHERE namespace = ? ORDER BY workflow_id", [ns])
    return (rows[0]["runs"], rows[0]["skips"],
            tuple((r["workflow_id"], str(r["next_nominal_at"])) for r in positions))


def earliest_due(db: RawDb, ns: str) -> datetime | None:
    rows = db.query("SELECT min(next_fire_at) AS due FROM schedules "
                    "WHERE namespace = ? AND status = 'scheduled'", [ns])
    return ts(rows[0]["due"]) if rows else None


class Runner:
    """Runs clockwf processes for a campaign: forked, or every ``exec_every``-th one real."""

    def __init__(self, fork: ForkServer, workdir: Path, rng: random.Random,
                 exec_every: int = EXEC_EVERY) -> None:
        self.fork = fork
        self.workdir = workdir
        self.rng = rng
        self.exec_every = exec_every
        self.count = 0
        self.env = child_env()

    def mode(self, kill: bool = True) -> str:
        """fork, or for every ``exec_every``-th process to be killed a real process."""
        if not kill:
            return "fork"
        self.count += 1
        return "exec" if self.exec_every and self.count % self.exec_every == 0 else "fork"

    def run(self, mode: str, argv: list[str], delay: float | None,
            timeout: float = 120) -> Outcome:
        if mode == "fork":
            return self.fork.run(argv, delay=delay, env=self.env, timeout=timeout)
        return run_exec(argv, delay=delay, env=self.env, log=self.workdir / "exec.log",
                        timeout=timeout)


def expect_exit(outcome: Outcome, *codes: int) -> None:
    assert outcome.code in codes, (f"clockwf {' '.join(outcome.argv[:1])} ended with "
                                   f"{outcome.code}:\n{outcome.output[-3000:]}")
    assert "Traceback" not in outcome.output, outcome.output[-3000:]


def count_published(db: RawDb, ns: str) -> tuple[int, int, int]:
    try:
        rows = db.query(
            "SELECT (SELECT count(*) FROM workflows WHERE namespace = ?) AS w, "
            "(SELECT count(*) FROM workflow_versions WHERE namespace = ?) AS v, "
            "(SELECT count(*) FROM schedules WHERE namespace = ?) AS s", [ns, ns, ns])
    except Exception:   # no schema yet: the first publish was killed before creating it
        db.close()
        return (0, 0, 0)
    return (int(rows[0]["w"]), int(rows[0]["v"]), int(rows[0]["s"]))


def publish_campaign(runner: Runner, db: RawDb, url: str, ns: str, files: list[Path],
                     now: datetime, rng: random.Random) -> KillStats:
    """Kill `publish FILES...` (the first into a fresh store, so the first kills land in the
    creation of the schema) until PUBLISH_KILLS kills: each leaves all or nothing in its
    namespace. Then publish into ``ns`` for real."""
    stats = KillStats()
    started = time.monotonic()
    delays = {"fork": Delays(rng, 0.3), "exec": Delays(rng, 1.0, floor=0.3)}
    attempt = 0
    while True:
        attempt += 1
        assert attempt < 20 * PUBLISH_KILLS, stats.summary()
        done = stats.kills >= PUBLISH_KILLS
        target = ns if done else f"{ns}-p{attempt}"
        mode = runner.mode(not done)
        argv = ["publish", "--db", url, "--namespace", target, "--now", iso_z(now),
                "--format", "json", *map(str, files)]
        outcome = runner.run(mode, argv, None if done else delays[mode].pick())
        expect_exit(outcome, 0, -9)
        delays[mode].learn(outcome)
        published = count_published(db, target)
        assert published in ((0, 0, 0), (len(files),) * 3), (
            f"a publish killed after {outcome.elapsed:.3f} s left {published} "
            "(workflows, versions, schedules): not all or nothing")
        stats.record(outcome, changed=published != (0, 0, 0))
        if done:
            assert published == (len(files),) * 3
            break
    stats.elapsed = time.monotonic() - started
    return stats


def tick_campaign(runner: Runner, db: RawDb, url: str, ns: str, expected: list[Expected],
                  start: datetime, end: datetime, rng: random.Random, kills: int,
                  budget: float) -> KillStats:
    stats = KillStats()
    started = time.monotonic()
    delays = {"fork": Delays(rng, 0.15), "exec": Delays(rng, 0.8, floor=0.3)}
    last = fingerprint(db, ns)
    now = start
    calibrated = False

    def step() -> timedelta:
        # Spread the kills over the span: about one advance per kill still to come (about 0.8
        # advances happen per kill), then finish in a few steps.
        left = max(kills - stats.kills, 0)
        mean = (end - now) / (0.8 * left + 1) if left else (end - now) / 3
        return max(min(mean * rng.expovariate(1.0), 3 * mean), timedelta(minutes=1))

    while True:
        kill = (calibrated and stats.kills < kills and rng.random() < P_KILL
                and time.monotonic() - started < budget)
        mode = runner.mode(kill)
        argv = ["tick", "--db", url, "--namespace", ns, "--now", iso_z(now), "--format", "json"]
        outcome = runner.run(mode, argv, delays[mode].pick() if kill else None)
        expect_exit(outcome, 0, -9)
        if not outcome.killed:
            calibrated = True
            delays[mode].learn(outcome)
            assert json.loads(outcome.output_text)["now"] == iso_z(now).replace(".000000", "")
        if outcome.killed or stats.completed % 5 == 0:
            check_schedules(db, ns, expected)   # consistent whenever a process was killed
        current = fingerprint(db, ns)
        stats.record(outcome, changed=current != last)
        last = current
        if not outcome.killed and now >= end:
            due = earliest_due(db, ns)
            if due is None or due > end:
                break     # settled: nothing due at the end of the span
        elif (not outcome.killed or rng.random() < 0.5) and now < end:
            now = min(end, now + step())   # the next process may come later than a killed one
    stats.elapsed = time.monotonic() - started
    return stats


def report(title: str, figures: dict[str, Any]) -> None:
    print(f"\n[kill9] {title}: " + json.dumps(figures, default=str))


def test_kill9_publish_and_tick(db_url: str, backend: str, namespace: str,
                                tmp_path: Path) -> None:
    rng = random.Random(f"{SEED}-{backend}-tick")
    defs = tick_definitions()
    files = []
    (tmp_path / "defs").mkdir()
    for wid, text in defs.items():
        path = tmp_path / "defs" / f"{wid}.yaml"
        path.write_text(text)
        files.append(path)
    end = T0 + SPAN
    expected = [Expected.of(text, T0, end) for text in defs.values()]
    fork = ForkServer(tmp_path / "children")
    db = RawDb(db_url)
    try:
        runner = Runner(fork, tmp_path, rng)
        pub = publish_campaign(runner, db, db_url, namespace, files, T0, rng)
        report(f"{backend} publish", pub.summary())
        assert pub.kills == PUBLISH_KILLS

        ticks = tick_campaign(runner, db, db_url, namespace, expected, T0 + timedelta(hours=1),
                              end, rng, TICK_KILLS, budget=600)   # a safety cap only
        states = check_schedules(db, namespace, expected, settled_at=end, launches=tick_launches)
        launched = sum(s.launched for s in states.values())
        skipped = sum(s.skipped for s in states.values())
        figures = ticks.summary()
        figures.update({"schedules": len(states), "runs launched": launched,
                        "occurrences recorded skipped": skipped})
        report(f"{backend} tick", figures)
        assert ticks.kills >= TICK_KILLS * 0.6, figures
        assert ticks.kills_in_transaction >= 5, figures   # the kills did reach the writes
        # Every occurrence of the span is accounted for, each exactly once.
        total = sum(len([o for o in e.occurrences if o.due <= end]) for e in expected)
        assert launched + skipped == total
        rows = db.query("SELECT count(*) AS n, count(DISTINCT fire_key) AS k FROM runs "
                        "WHERE namespace = ?", [namespace])
        assert rows[0]["n"] == rows[0]["k"] == launched
    finally:
        db.close()
        fork.close()


MARKER_STEPS = 2


def marker_steps(marker: Path) -> str:
    return "steps:\n" + "".join(
        f"  - run: 'echo \"$CLOCKWF_RUN_ID {i}\" >> {marker} && sleep 0.1'\n"
        for i in range(MARKER_STEPS))


def daemon_definitions(marker: Path, now: datetime) -> dict[str, str]:
    steps = marker_steps(marker)
    defs = {f"minutely-{i}": recurring(f"minutely-{i}", "* * * * *", window="1d", steps=steps)
            for i in range(12 if FULL else 4)}
    defs["every2-jitter"] = recurring("every2-jitter", "*/2 * * * *", jitter="20s",
                                      window="1d", steps=steps)
    defs["overlap-skip"] = recurring("overlap-skip", "* * * * *", overlap="skip",
                                     window="1d", steps=steps)
    defs["batched"] = recurring("batched", "* * * * *", max_catchup=4, window="1d",
                                steps=steps)
    defs["once"] = one_time("once", once_at(now), window="1d", steps=steps)
    return defs


def once_at(now: datetime) -> datetime:
    return (now + timedelta(seconds=6)).replace(microsecond=0)


def test_kill9_daemon_and_executor(db_url: str, backend: str, namespace: str,
                                   tmp_path: Path) -> None:
    rng = random.Random(f"{SEED}-{backend}-daemon")
    marker = tmp_path / "executed.txt"
    now = datetime.now(UTC)
    backlog = timedelta(minutes=60 if FULL else 25)
    published = (now - backlog).replace(second=0, microsecond=0)
    defs = daemon_definitions(marker, now)
    files = []
    for wid, text in defs.items():
        path = tmp_path / f"{wid}.yaml"
        path.write_text(text)
        files.append(str(path))
    horizon = now + timedelta(hours=2)
    expected = [Expected.of(text, published, horizon) for text in defs.values()]
    fork = ForkServer(tmp_path / "children")
    db = RawDb(db_url)
    stats = KillStats()
    started = time.monotonic()
    try:
        runner = Runner(fork, tmp_path, rng, exec_every=5)
        expect_exit(runner.run("fork", ["publish", "--db", db_url, "--namespace", namespace,
                                        "--now", iso_z(published), *files], None), 0)
        daemon = ["daemon", "--db", db_url, "--namespace", namespace, "--workers", "3",
                  "--lease", "2s", "--grace", "1s", "--batch", "2", "--max-sleep", "5s",
                  "--log-format", "json"]
        delays = {"fork": Delays(rng, 1.5, floor=0.05), "exec": Delays(rng, 2.5, floor=0.5)}
        for _ in range(DAEMON_KILLS):
            mode = runner.mode()
            outcome = runner.run(mode, daemon, delays[mode].pick())
            delays[mode].learn(outcome)
            expect_exit(outcome, -9)            # a daemon never stops by itself
            check_schedules(db, namespace, expected)
            stats.record(outcome)
        mid = db.query("SELECT status, count(*) AS n FROM runs WHERE namespace = ? "
                       "GROUP BY status", [namespace])

        # Recovery: one daemon until nothing is queued or running. The dead daemons' runs end
        # interrupted once their leases expire; the backlog is caught up by policy.
        wait_for(lambda: datetime.now(UTC) > once_at(now) + timedelta(seconds=1), 30,
                 "the one-time schedule to be due")
        recovery_at = datetime.now(UTC)
        recovery = runner.run("exec", [*daemon, "--exit-when-idle"], None, timeout=180)
        expect_exit(recovery, 0)
        actions = [json.loads(line).get("action") for line in recovery.output.splitlines()
                   if line.startswith("{")]
        assert "daemon.idle_exit" in actions
        states = check_schedules(db, namespace, expected, settled_at=recovery_at)
        settled = check_runs_settled(db, namespace, steps=MARKER_STEPS, marker=marker)
        stats.elapsed = time.monotonic() - started
        figures: dict[str, Any] = stats.summary()
        figures.update(settled)
        figures["run states after the kills"] = {r["status"]: r["n"] for r in mid}
        figures["occurrences launched"] = sum(s.launched for s in states.values())
        figures["occurrences skipped (overlap)"] = sum(s.skipped for s in states.values())
        report(f"{backend} daemon", figures)
        assert stats.kills == DAEMON_KILLS
        assert states["once"].launched == 1
        assert settled["runs"] == figures["occurrences launched"]
        assert settled.get("runs succeeded", 0) > 0
    finally:
        db.close()
        fork.close()

