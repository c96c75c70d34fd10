"""Benchmark: mission upload through a lossy UDP link, skyscan's uploader against MAVProxy's ``wp load``.

One SITL (``python -m sitl``, speedup 1: its protocol timers, like ArduPilot's, run on simulated time,
so a speedup would make it re-request and cancel sooner than a real vehicle) serves every run. For each
loss rate and mission size, each tool uploads through its own :class:`~sitl.relay.LossyRelay` in front
of the SITL's UDP port, with the same seed, loss in each direction and small duplicate/reorder rates:

* **skyscan**: :func:`telemetry.plan_transfer.upload_plan` (upload, then download and compare through the
  same lossy link), timed around the call (the link is opened and has heard the vehicle before);
* **MAVProxy** 1.8.75, headless: ``--master=udpout:RELAY --target-system=1 --target-component=1
  --non-interactive --no-state --default-modules=wp,link --cmd='wp load f.txt'``, timed from process
  start and from its first output line (which excludes most of its start-up) until it prints
  ``Got MISSION_ACK: TYPE_MISSION: ACCEPTED``. Any other MISSION_ACK is a failure; so is the cap, and so
  is a transfer the vehicle has visibly ended without MAVProxy printing ACCEPTED within a few seconds
  (MAVProxy sends MISSION_COUNT once and never resends it, and stops answering after 10 s without a
  request, so these runs would otherwise only end at the cap). The vehicle is watched for that over a
  clean TCP link with MISSION_REQUEST_LIST, which it answers DENIED while an upload is in progress.

Non-final ACKs (INVALID_SEQUENCE for a duplicated item, DENIED) are not failures: ArduPilot carries on.

Two reference rows come first: 0 % loss *without* duplicates or reordering, i.e. the protocols alone.
Note that the relay holds a "reordered" datagram until the next one in the same direction: for a
stop-and-wait sender such as MAVProxy (one item per request, 1 Hz heartbeat otherwise) a held item
waits up to the vehicle's 1 s re-request, which is what the 0 % rows with 2 % reordering show.

After every run the vehicle's mission is downloaded over a clean TCP link and compared with what the
tool was given ("verified"), then cleared. Times are medians over the verified runs of a cell; a tool's
runs in a cell are repeated (up to ``--repeats``) while they succeed and took less than ``--cell-budget``
seconds in all. ``python -m benchmarks link`` runs the default grid (about 10 minutes, most of it MAVProxy
runs that end at the 120 s cap); ``python -m benchmarks.link --help`` for options (``--cap``, ``--loss``,
``--n``, ``--repeats``).
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.mavproxy import MISSION_ACK_RE, MavProxy, mavproxy_command, mavproxy_version
from mission.commands import Cmd, Frame
from mission.formats import read_plan, write_plan
from mission.plan import Home, MissionItem, Plan
from sitl.process import SitlProcess
from sitl.relay import LossyRelay
from skyscan.errors import LinkError
from telemetry.link import Link, connect, mavlink
from telemetry.mission_protocol import clear, compare, download
from telemetry.plan_transfer import mission_items, upload_plan

HOME = (-35.363261, 149.165230, 584.0, 0.0)
LOSSES = (0.0, 0.10, 0.30)
SIZES = (100, 700)
DUPLICATE, REORDER = 0.02, 0.02
MAVPROXY_CAP_S = 120.0  # a MAVProxy run still going after this long counts as failed
ENDED_GRACE_S = 3.0  # after the vehicle ended the transfer, MAVProxy has this long to print its ACK
NO_START_S = 15.0  # MAVProxy's single MISSION_COUNT lost: the vehicle never starts receiving


@dataclass
class Run:
    """One upload by one tool: seconds (None when it did not succeed), verified, why it failed."""

    seconds: float | None
    verified: bool
    seconds_after_first_line: float | None = None
    note: str = ""
    upload_seconds: float | None = None  # skyscan: the upload alone (without the verifying download)


@dataclass
class Cell:
    """All runs of one (loss, n) cell."""

    loss: float
    n: int
    duplicate: float = DUPLICATE
    reorder: float = REORDER
    skyscan: list[Run] = field(default_factory=list)
    mavproxy: list[Run] = field(default_factory=list)

    @property
    def label(self) -> str:
        """The loss column: the loss rate, marked when the relay neither duplicates nor reorders."""
        return f"{self.loss:.0%}" + ("" if self.duplicate or self.reorder else " (no dup/reorder)")


def survey_plan(n: int, seed: int = 0) -> Plan:
    """A lawnmower survey of ``n`` items at full 1e-7 degree resolution: take-off, waypoints, camera
    triggers on and off along each line, RTL."""
    rng = random.Random(seed)
    items = [MissionItem.takeoff(40.0)]
    k = 0
    while len(items) < n - 1:
        row, col = divmod(k, 12)
        col = col if row % 2 == 0 else 11 - col
        lat = round(HOME[0] + 0.00025 * row + rng.randint(-99, 99) * 1e-7, 7)
        lon = round(HOME[1] + 0.0003 * col + rng.randint(-99, 99) * 1e-7, 7)
        items.append(MissionItem.waypoint(lat, lon, 40.0 + 0.25 * (k % 9)))
        if col in (0, 11):
            items.append(MissionItem.trigger_distance(12.5 if (row + (col == 11)) % 2 == 0 else 0.0))
        k += 1
    items = [*items[: n - 1], MissionItem(Cmd.NAV_RETURN_TO_LAUNCH, Frame.MISSION)]
    return Plan(items=items, home=Home(*HOME[:3]))


def _log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _holds(clean: Link, items: list[MissionItem]) -> bool:
    """Whether the vehicle's mission, read over the clean link, is ``items`` (home aside)."""
    try:
        return compare(items, download(clean), skip_first=True) is None
    except LinkError:
        return False


def run_skyscan(sitl: SitlProcess, clean: Link, plan: Plan, loss: float, seed: int, *, duplicate: float = DUPLICATE,
                reorder: float = REORDER) -> Run:
    """One skyscan upload + verify through a fresh lossy relay."""
    udp = sitl.endpoint("udp")
    with LossyRelay((udp.host, udp.port), loss=loss, duplicate=duplicate, reorder=reorder, seed=seed) as relay, \
            connect(f"udpout:{relay.address}", timeout=20) as link:
        t0 = time.monotonic()
        upload_s = None
        try:
            report = upload_plan(link, plan)
            seconds, note = time.monotonic() - t0, "" if report.verified else f"differs: {report.difference}"
            ok = report.verified
            upload_s = report.stats["mission"].seconds
        except LinkError as exc:
            seconds, ok, note = None, False, str(exc)
    verified = ok and _holds(clean, mission_items(clean, plan))
    return Run(seconds if verified else None, verified, note=note,
               upload_seconds=upload_s if verified and upload_s == upload_s else None)


def _final_ack(mp: MavProxy) -> tuple[float, re.Match[str]] | None:
    """The first MISSION_ACK for the mission that ends the upload. INVALID_SEQUENCE (the vehicle got an
    item twice) and DENIED (another GCS's item) are not final: ArduPilot carries on after them."""
    for at, m in mp.timed_matches(MISSION_ACK_RE):
        if m[1] == "MISSION" and m[2] not in ("INVALID_SEQUENCE", "DENIED"):
            return at, m
    return None


class _TransferProbe:
    """Whether the vehicle is receiving an upload, asked over the clean link (REQUEST_LIST -> DENIED)."""

    def __init__(self, link: Link):
        self.link = link
        self.seen_receiving = False

    def receiving(self) -> bool | None:
        link = self.link
        link.mav.mission_request_list_send(link.target_system, link.target_component, 0)
        try:
            msg = link.recv(("MISSION_COUNT", "MISSION_ACK"), where=lambda m: getattr(m, "mission_type", 0) == 0,
                            timeout=0.5)
        except LinkError:
            return None
        busy = msg.get_type() == "MISSION_ACK" and msg.type == mavlink.MAV_MISSION_DENIED
        self.seen_receiving |= busy
        return busy


def run_mavproxy(sitl: SitlProcess, clean: Link, path: Path, loss: float, seed: int, cap: float, *,
                 duplicate: float = DUPLICATE, reorder: float = REORDER) -> Run:
    """One MAVProxy ``wp load`` through a fresh lossy relay (same seed as skyscan's)."""
    udp = sitl.endpoint("udp")
    expected = mission_items(clean, read_plan(path))  # what MAVProxy sends: the file as written
    note = ""
    with LossyRelay((udp.host, udp.port), loss=loss, duplicate=duplicate, reorder=reorder, seed=seed) as relay, \
            MavProxy(f"udpout:{relay.address}", commands=[f"wp load {path}"], modules=("wp", "link"),
                     workdir=path.parent / f"mavproxy-{seed}") as mp:
        probe = _TransferProbe(clean)
        ended_at: float | None = None
        result = None
        while True:
            result = _final_ack(mp)
            if result is not None:
                break
            mp.wait_for(MISSION_ACK_RE, 1.0, since=mp.mark(), raise_on_timeout=False)  # sleeps, wakes on an ACK
            if (result := _final_ack(mp)) is not None:
                break
            now = time.monotonic()
            if now - mp.started_at > cap:
                note = f"no ACK within the {cap:g} s cap"
                break
            if mp.proc is not None and mp.proc.poll() is not None:
                note = f"MAVProxy exited ({mp.proc.returncode})"
                break
            busy = probe.receiving()
            if busy is False and probe.seen_receiving:
                ended_at = ended_at or now
                if now - ended_at > ENDED_GRACE_S:
                    note = "vehicle ended the upload, MAVProxy never saw an ACK"
                    break
            first = mp.first_line_at
            if not probe.seen_receiving and first is not None and now - first > NO_START_S:
                note = f"vehicle never started receiving (MISSION_COUNT lost?) within {NO_START_S:g} s"
                break
        seconds = after_first = None
        if result is not None:
            at, m = result
            if m[2] == "ACCEPTED":
                seconds = at - mp.started_at
                after_first = at - (mp.first_line_at or mp.started_at)
            else:
                note = f"MISSION_ACK {m[2]}"
        if seconds is None:  # say what MAVProxy said last (its non-final ACKs aside) for the record
            said = [t for _, t in mp.lines if "INVALID_SEQUENCE" not in t][-4:]
            _log("  MAVProxy's last lines: " + " | ".join(said))
        loaded = mp.matches(r"Loaded \d+ waypoints from")
        if not loaded and not note:
            note = "MAVProxy did not load the file"
    verified = _holds(clean, expected)
    if seconds is not None and not verified:
        note = note or "ACCEPTED but the vehicle holds something else"
    return Run(seconds if verified else None, verified, after_first if verified else None, note)


def _median(values: list[float | None]) -> float | None:
    done = [v for v in values if v is not None]
    return statistics.median(done) if done else None


def _fmt(value: float | None) -> str:
    return "fail" if value is None else f"{value:.2f}"


def _ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b <= 0:
        return "n/a (MAVProxy failed)" if a is None else "n/a"
    return f"{a / b:.1f}x"


def table(cells: list[Cell]) -> str:
    """The results as a text table (medians of verified runs)."""
    head = ("loss", "n", "skyscan s", "(upload only)", "verified", "MAVProxy s (start)", "(1st line)", "verified",
            "ratio (start)", "ratio (1st line)")
    rows = [head]
    for c in cells:
        sky = _median([r.seconds for r in c.skyscan])
        mp_start = _median([r.seconds for r in c.mavproxy])
        mp_first = _median([r.seconds_after_first_line for r in c.mavproxy])
        rows.append((c.label, str(c.n), _fmt(sky), _fmt(_median([r.upload_seconds for r in c.skyscan])),
                     f"{sum(r.verified for r in c.skyscan)}/{len(c.skyscan)}",
                     _fmt(mp_start), _fmt(mp_first), f"{sum(r.verified for r in c.mavproxy)}/{len(c.mavproxy)}",
                     _ratio(mp_start, sky), _ratio(mp_first, sky)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = ["  ".join(v.rjust(w) for v, w in zip(r, widths, strict=True)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the grid and print the table; 0 when every skyscan upload verified, 1 otherwise."""
    ap = argparse.ArgumentParser(prog="python -m benchmarks.link", description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=3, help="at most this many runs per cell and tool (median "
                                                             "reported)")
    ap.add_argument("--cap", type=float, default=MAVPROXY_CAP_S, help="seconds before a MAVProxy run fails")
    ap.add_argument("--loss", type=float, action="append", help="loss rate(s), default 0, 0.1, 0.3")
    ap.add_argument("--n", type=int, action="append", help="mission size(s), default 100, 700")
    ap.add_argument("--no-reference", action="store_true",
                    help="skip the reference rows (0 %% loss, no duplicates, no reordering)")
    ap.add_argument("--cell-budget", type=float, default=30.0,
                    help="no further runs of a tool in a cell once one failed or its runs there took this "
                         "many seconds (a MAVProxy failure can take up to --cap s)")
    args = ap.parse_args(argv if argv is not None else [])
    if mavproxy_command() is None:
        print("MAVProxy is not installed (pip install --no-deps MAVProxy==1.8.75); cannot compare", file=sys.stderr)
        return 2
    losses, sizes = args.loss or list(LOSSES), args.n or list(SIZES)
    cells: list[Cell] = []
    t_start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-link-") as tmp, \
            SitlProcess(home=HOME, speedup=1, listen=["tcp:127.0.0.1:0", "udp:127.0.0.1:0"],
                        log_dir=Path(tmp) / "sitl") as sitl, \
            connect(sitl.connection_string("tcp"), timeout=20) as clean:
        # First a reference without duplicates or reordering: the protocols alone on a perfect link.
        grid = [(0.0, n, 0.0, 0.0) for n in sizes] if not args.no_reference else []
        grid += [(loss, n, DUPLICATE, REORDER) for loss in losses for n in sizes]
        for loss, n, duplicate, reorder in grid:
            cell = Cell(loss, n, duplicate, reorder)
            cells.append(cell)
            plan = survey_plan(n, seed=n)
            path = Path(tmp) / f"mission-{n}.txt"
            write_plan(plan, path)
            spent = {"skyscan": 0.0, "MAVProxy": 0.0}
            done = {"skyscan": False, "MAVProxy": False}
            for rep in range(args.repeats):
                seed = 1000 * rep + round(loss * 100) + n  # the same relay seed for both tools
                for tool in ("skyscan", "MAVProxy"):
                    if done[tool]:
                        continue
                    clear(clean)
                    t_run = time.monotonic()
                    if tool == "skyscan":
                        run = run_skyscan(sitl, clean, plan, loss, seed, duplicate=duplicate, reorder=reorder)
                        cell.skyscan.append(run)
                    else:
                        run = run_mavproxy(sitl, clean, path, loss, seed, args.cap, duplicate=duplicate,
                                           reorder=reorder)
                        cell.mavproxy.append(run)
                    spent[tool] += time.monotonic() - t_run
                    # Repeat while cheap; a failure (up to --cap s for MAVProxy) is not repeated.
                    done[tool] = run.seconds is None or spent[tool] > args.cell_budget
                    extra = f" ({_fmt(run.seconds_after_first_line)} s after its first line)" \
                        if tool == "MAVProxy" else ""
                    _log(f"loss {cell.label} n {n} #{rep + 1} {tool}: {_fmt(run.seconds)} s{extra} {run.note}")
            clear(clean)
    print(f"Mission upload through a lossy UDP relay (loss each way; {DUPLICATE:.0%} duplicated, "
          f"{REORDER:.0%} reordered), skyscan SITL at speedup 1, MAVProxy {mavproxy_version()}; "
          f"skyscan = upload + verify; MAVProxy = wp load until ACCEPTED (cap {args.cap:g} s); "
          f"medians of verified runs; ratio = MAVProxy / skyscan (upload + verify)")
    print(table(cells))
    notes = sorted({f"{c.label}/{c.n} {tool}: {r.note}" for c in cells
                    for tool, runs in (("skyscan", c.skyscan), ("MAVProxy", c.mavproxy)) for r in runs if r.note})
    for note in notes:
        print(f"  note {note}")
    print(f"total {time.monotonic() - t_start:.0f} s")
    return 0 if all(r.verified for c in cells for r in c.skyscan) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
