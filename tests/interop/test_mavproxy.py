"""Interop with MAVProxy 1.8.75 (a real, headless ``mavproxy.py`` process) on skyscan's SITL.

* skyscan uploads, MAVProxy downloads (``wp list``, ``wp save``, ``fence save``): same items;
* MAVProxy uploads (``wp load`` of a file skyscan wrote), skyscan downloads: same items;
* MAVProxy flies a mission (``wp load``, ``mode guided``, ``arm throttle``, then ``long MISSION_START``
  or ``mode auto`` with AUTO_OPTIONS bit 1) and the SITL, watched over a skyscan link, reaches every
  navigation item, lands and disarms.

MAVProxy's ``wp save`` writes values with ``%f`` (pymavlink ``mavwp.MAVWPLoader.save``): latitude and
longitude keep 6 decimals (0.11 m), so the saved file can only match to 5e-7 degree; the 1e-7 integers
MAVProxy received are checked from its ``wp list`` print-out (10 decimals). On upload MAVProxy
truncates (``int(lat * 1e7)``), hence the +-1 in the 1e-7 comparison.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from benchmarks.mavproxy import DEFAULT_MODULES, MISSION_ACK_RE, WP_LIST_RE, MavProxy, mavproxy_command
from mission.formats import read_plan, write_plan
from mission.plan import MissionItem, Plan
from telemetry.link import Link, connect
from telemetry.mission_protocol import clear, compare, download
from telemetry.plan_transfer import mission_items, upload_plan
from tests.interop.conftest import FlightWatcher, nav_seqs, short_flight_plan, survey_plan

if mavproxy_command() is None:
    pytest.skip("MAVProxy is not installed (pip install --no-deps MAVProxy==1.8.75 pyserial defusedxml pynmeagps)",
                allow_module_level=True)

FILE_DEG = 5e-7 + 1e-9  # what %f (6 decimals) keeps of a latitude/longitude


def _same32(a: float, b: float) -> bool:
    fa, fb = np.float32(a), np.float32(b)
    return bool(math.isnan(fa) and math.isnan(fb)) or bool(fa == fb)


def _file_difference(sent: MissionItem, saved: MissionItem) -> str | None:
    """How an item MAVProxy saved differs from the one skyscan sent (None = same to the file's precision)."""
    if (sent.command, sent.frame, sent.autocontinue) != (saved.command, saved.frame, saved.autocontinue):
        return f"command/frame/autocontinue {sent.command}/{sent.frame} sent, {saved.command}/{saved.frame} saved"
    for k, (a, b) in enumerate(zip(sent.params, saved.params, strict=True), start=1):
        if not _same32(a, b):
            return f"param{k} {a!r} sent, {b!r} saved"
    if sent.is_positional:
        for name, a, b in (("lat", sent.x, saved.x), ("lon", sent.y, saved.y)):
            if abs(a - b) > FILE_DEG:
                return f"{name} {a:.7f} sent, {b:.7f} saved"
    elif not (_same32(sent.x, saved.x) and _same32(sent.y, saved.y)):
        return f"params 5/6 {sent.x}/{sent.y} sent, {saved.x}/{saved.y} saved"
    if not _same32(sent.z, saved.z):
        return f"z {sent.z!r} sent, {saved.z!r} saved"
    return None


def _wait_count(mp: MavProxy, pattern, count: int, since: int, timeout: float) -> list:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = mp.matches(pattern, since=since)
        if len(found) >= count:
            return found
        time.sleep(0.05)
    raise AssertionError(f"MAVProxy printed {len(mp.matches(pattern, since=since))} of {count} lines; "
                         f"output:\n{mp.output[-2000:]}")


def test_mavproxy_downloads_what_skyscan_uploaded(sitl, clean_link: Link, tmp_path):
    plan = survey_plan(120, seed=7)
    report = upload_plan(clean_link, plan)
    assert report.verified, report.difference
    assert report.counts == {"mission": 121, "fence": 8}
    sent = mission_items(clean_link, plan)  # item 0 = home placeholder, as ArduPilot stores missions

    wp_file, fence_file = tmp_path / "wp.txt", tmp_path / "fence.txt"
    udp = sitl.endpoint("udp")
    with MavProxy(f"udpout:{udp.host}:{udp.port}", interactive=True, modules=(*DEFAULT_MODULES, "fence")) as mp:
        mark = mp.mark()
        mp.send("wp list")
        listed = _wait_count(mp, WP_LIST_RE, len(sent), mark, timeout=20)
        mark = mp.mark()
        mp.send(f"wp save {wp_file}")
        _, saved = mp.wait_for(r"Saved (\d+) waypoints to", 20, since=mark)
        assert int(saved[1]) == len(sent)
        mark = mp.mark()
        mp.send(f"fence save {fence_file}")
        _, saved = mp.wait_for(r"Saved (\d+) fence items to", 20, since=mark)
        assert int(saved[1]) == 8

    # What MAVProxy received, as it printed it: lat/lon exactly the 1e-7 integers skyscan sent.
    assert len(listed) == len(sent)
    for seq, (m, it) in enumerate(zip(listed, sent, strict=True)):
        if seq == 0:
            continue  # home: the vehicle's own
        assert (int(m["command"]), int(m["frame"]), int(m["auto"])) == (it.command, it.frame, 1), seq
        if it.is_positional:
            assert round(float(m["x"]) * 1e7) == round(it.x * 1e7), (seq, m["x"], it.x)
            assert round(float(m["y"]) * 1e7) == round(it.y * 1e7), (seq, m["y"], it.y)

    # What MAVProxy saved, read with skyscan's reader: the same mission, item by item.
    back = read_plan(wp_file)
    assert back.home is not None and abs(back.home.lat - plan.home.lat) <= FILE_DEG
    assert len(back.items) == len(plan.items) == 120
    for seq, (a, b) in enumerate(zip(plan.items, back.items, strict=True), start=1):
        assert _file_difference(a, b) is None, f"item {seq}: {_file_difference(a, b)}"
    fence = read_plan(fence_file).fence
    assert [p.inclusion for p in fence.polygons] == [p.inclusion for p in plan.fence.polygons]
    for got, want in zip(fence.polygons, plan.fence.polygons, strict=True):
        assert np.abs(np.subtract(got.points, want.points)).max() <= FILE_DEG
    assert np.abs(np.subtract(fence.return_point, plan.fence.return_point)).max() <= FILE_DEG


def test_skyscan_downloads_what_mavproxy_uploaded(sitl, clean_link: Link, tmp_path):
    clear(clean_link)
    plan = survey_plan(150, seed=11, fence=False)
    path = tmp_path / "mission.txt"
    write_plan(plan, path)  # QGC WPL 110, what MAVProxy's `wp load` reads
    from_file = read_plan(path)  # what MAVProxy will send (NaN params are written as 0)
    assert len(from_file.items) == 150

    udp = sitl.endpoint("udp")
    with MavProxy(f"udpout:{udp.host}:{udp.port}", commands=[f"wp load {path}"]) as mp:
        _, ack = mp.wait_for(MISSION_ACK_RE, 30)
        assert (ack[1], ack[2]) == ("MISSION", "ACCEPTED"), mp.output
        mp.wait_for(r"Loaded 151 waypoints in", 5)

    got = download(clean_link)
    assert compare(mission_items(clean_link, from_file), got, skip_first=True) is None
    # The vehicle flies what the planner planned, apart from the NaN "unset" params the file stores as 0.
    planned = [MissionItem(it.command, it.frame, tuple(0.0 if math.isnan(p) else p for p in it.params),
                           it.x, it.y, it.z, it.autocontinue) for it in plan.items]
    assert compare(mission_items(clean_link, Plan(items=planned, home=plan.home)), got, skip_first=True) is None


def _set_param(mp: MavProxy, name: str, value: int, timeout: float = 15.0) -> None:
    """``param set`` (MAVProxy queues it and sends it from its idle loop), then ``param fetch`` until the
    vehicle reports the new value."""
    mp.wait_for(r"Received \d+ parameters", timeout)  # MAVProxy only sets parameters it has listed
    mp.send(f"param set {name} {value}")
    deadline = time.monotonic() + timeout
    while True:
        mark = mp.mark()
        mp.send(f"param fetch {name}")
        if mp.wait_for(rf"{name} = {value}(?:\.0+)?$", 1.0, since=mark, raise_on_timeout=False):
            return
        assert time.monotonic() < deadline, f"MAVProxy could not set {name}; output:\n{mp.output[-2000:]}"


@pytest.mark.parametrize("start", ["long MISSION_START", "mode auto"], ids=["mission-start", "mode-auto"])
def test_mavproxy_flies_a_mission(flight_sitl, tmp_path, start):
    """MAVProxy loads the mission, switches to GUIDED, arms and starts it: with ``long MISSION_START``
    (what ArduCopter wants from a GCS without RC) or with ``mode auto`` after setting AUTO_OPTIONS bit 1
    (take off in AUTO without raising the throttle)."""
    plan = short_flight_plan()
    path = tmp_path / "flight.txt"
    write_plan(plan, path)
    seqs = nav_seqs(plan)
    udp = flight_sitl.endpoint("udp")
    with connect(flight_sitl.connection_string("tcp"), timeout=10) as link, FlightWatcher(link) as watcher, \
            MavProxy(f"udpout:{udp.host}:{udp.port}", interactive=True,
                     modules=(*DEFAULT_MODULES, "cmdlong")) as mp:
        mp.send(f"wp load {path}")
        _, ack = mp.wait_for(MISSION_ACK_RE, 20)
        assert ack[2] == "ACCEPTED", mp.output
        mp.wait_for("Detected vehicle", 10)
        if start == "mode auto":
            _set_param(mp, "AUTO_OPTIONS", 2)
        # GUIDED and arming are refused until the EKF has a position (a few simulated seconds): retry.
        # Once armed, the vehicle disarms again after DISARM_DELAY (10 s simulated) without a take-off.
        armed = r"^(?:\S+> )?ARMED$"
        deadline = time.monotonic() + 30
        while mp.wait_for(armed, 0, raise_on_timeout=False) is None:
            assert time.monotonic() < deadline, f"MAVProxy could not arm; output:\n{mp.output[-2000:]}"
            mp.send("mode guided")
            mp.send("arm throttle")
            mp.wait_for(armed, 1.0, raise_on_timeout=False)
        mark = mp.mark()
        mp.send(start)
        if start.startswith("long"):
            _, ok = mp.wait_for(r"Got COMMAND_ACK: MISSION_START: (\w+)", 10, since=mark)
        else:
            _, ok = mp.wait_for(r"Got COMMAND_ACK: DO_SET_MODE: (\w+)", 10, since=mark)
        assert ok[1] == "ACCEPTED", mp.output
        record = watcher.wait_landed(seqs[-1], timeout=60)
        assert mp.proc is not None and mp.proc.poll() is None  # MAVProxy stayed up all along
    assert record.reached == seqs, record
    assert record.was_armed and not record.armed, record
    assert record.max_rel_alt > 9.0 and abs(record.rel_alt) < 0.5, record
    assert 3 in record.modes  # AUTO
