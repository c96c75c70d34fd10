"""Upload, download, verify and clear against the SITL over real sockets, also through a lossy link."""

from __future__ import annotations

import math

import pytest

from mission.commands import Cmd, Frame
from mission.plan import Fence, FenceCircle, FencePolygon, Home, MissionItem, Plan, RallyPoint
from sitl.relay import LossyRelay
from telemetry.link import connect
from telemetry.mission_protocol import MissionTransferError, clear, compare, download, upload
from telemetry.plan_transfer import download_plan, mission_items, upload_plan
from tests.telemetry.conftest import HOME


def make_plan(n: int, seed: int = 0) -> Plan:
    """A plan of ``n`` mission items: take-off, waypoints on a grid with camera items, RTL."""
    items = [MissionItem.takeoff(40)]
    k = 0
    while len(items) < n - 1:
        lat = HOME[0] + 0.0001 * (k // 20) + seed * 1e-6
        lon = HOME[1] + 0.0001 * (k % 20)
        items.append(MissionItem.waypoint(lat, lon, 40 + (k % 7) * 0.25))
        if len(items) < n - 1 and k % 5 == 0:
            items.append(MissionItem.trigger_distance(12.5 if k % 10 == 0 else 0.0))
        k += 1
    items.append(MissionItem.return_to_launch())
    return Plan(items=items[:n], home=Home(HOME[0], HOME[1], HOME[2]))


@pytest.fixture
def link(sitl):
    with connect(sitl.connection_string("tcp"), timeout=10) as lk:
        yield lk


@pytest.mark.parametrize("n", [10, 300, 700])
def test_upload_verify_clear(link, n):
    plan = make_plan(n)
    report = upload_plan(link, plan)
    assert report.verified and report.counts["mission"] == n + 1  # home placeholder included
    got = download(link)
    assert compare(mission_items(link, plan), got, skip_first=True) is None
    clear(link)
    assert len(download(link)) <= 1  # ArduPilot keeps only its home


def test_nan_params_and_frames_survive(link):
    plan = Plan(items=[MissionItem.takeoff(30), MissionItem.waypoint(HOME[0] + 1e-4, HOME[1], 30, hold_s=2.5),
                       MissionItem(Cmd.NAV_WAYPOINT, Frame.GLOBAL, (0, 0, 0, math.nan), HOME[0], HOME[1] + 1e-4,
                                   650.0),
                       MissionItem.shoot(), MissionItem.return_to_launch()], home=Home(*HOME[:3]))
    assert upload_plan(link, plan).verified
    back = download_plan(link)
    assert [it.command for it in back.items] == [it.command for it in plan.items]
    assert math.isnan(back.items[2].params[3]) and back.items[3].x == 1.0


def test_fence_and_rally_round_trip(link):
    plan = make_plan(10)
    plan.fence = Fence(
        polygons=[FencePolygon(((HOME[0] - 0.01, HOME[1] - 0.01), (HOME[0] - 0.01, HOME[1] + 0.01),
                                (HOME[0] + 0.01, HOME[1] + 0.01), (HOME[0] + 0.01, HOME[1] - 0.01))),
                  FencePolygon(((HOME[0] + 0.002, HOME[1]), (HOME[0] + 0.003, HOME[1]),
                                (HOME[0] + 0.003, HOME[1] + 0.001)), inclusion=False)],
        circles=[FenceCircle((HOME[0], HOME[1] + 0.005), 50.0, inclusion=False)],
        return_point=(HOME[0], HOME[1], 30.0))
    plan.rally = [RallyPoint(HOME[0] + 0.001, HOME[1], 30), RallyPoint(HOME[0], HOME[1] + 0.001, 35)]
    report = upload_plan(link, plan)
    assert report.verified and report.counts == {"mission": 11, "fence": 9, "rally": 2}
    back = download_plan(link)
    assert len(back.fence.polygons) == 2 and [p.inclusion for p in back.fence.polygons] == [True, False]
    assert back.fence.circles[0].radius_m == pytest.approx(50.0) and not back.fence.circles[0].inclusion
    assert [round(r.alt) for r in back.rally] == [30, 35]


def test_rejected_item_is_named(link):
    before = download(link)
    bad = make_plan(10)
    bad.items[4] = MissionItem.waypoint(95.0, HOME[1], 30)  # latitude out of range
    with pytest.raises(MissionTransferError, match=r"at item 5 \(MAV_CMD_NAV_WAYPOINT\): MAV_MISSION_INVALID_PARAM5_X"):
        upload_plan(link, bad)
    assert compare(before, download(link)) is None  # the vehicle kept its previous mission


def test_too_many_items_is_no_space(link):
    with pytest.raises(MissionTransferError, match="MAV_MISSION_NO_SPACE"):
        upload(link, mission_items(link, make_plan(800)))


@pytest.mark.parametrize(("loss", "n", "seed"), [(0.1, 300, 1), (0.3, 100, 2), (0.3, 100, 3)])
def test_lossy_link_never_leaves_a_silent_partial_mission(sitl, loss, n, seed):
    """Through a relay dropping, duplicating and reordering datagrams, every upload ends verified
    or with a clear failure, and what the vehicle holds (read over a clean link) is never a mix."""
    plan = make_plan(n, seed=seed)
    udp = sitl.endpoint("udp")
    with LossyRelay((udp.host, udp.port), loss=loss, duplicate=0.05, reorder=0.05, seed=seed) as relay, \
            connect(f"udpout:{relay.address}", timeout=15) as lossy:
        try:
            report = upload_plan(lossy, plan)
            outcome = report.verified
        except MissionTransferError as exc:
            outcome = False
            assert ("upload" in str(exc) and "holds" in str(exc)) or "unknown" in str(exc)
        assert relay.stats.dropped["up"] > 0 and relay.stats.dropped["down"] > 0
    with connect(sitl.connection_string("tcp"), timeout=10) as clean:
        held = download(clean)
    matches_new = compare(mission_items(clean, plan), held, skip_first=True) is None
    assert outcome == matches_new
    assert outcome, f"at {loss:.0%} loss the upload should still succeed with retries"


def test_link_lost_mid_upload_is_reported(sitl):
    udp = sitl.endpoint("udp")
    with LossyRelay((udp.host, udp.port), seed=5) as relay, connect(f"udpout:{relay.address}", timeout=10) as lossy:
        def cut(kind: str, done: int, total: int) -> None:
            if done >= 50:
                relay.loss = 1.0  # the radio goes out of range

        with pytest.raises(MissionTransferError,
                           match=r"stopped answering after item \d+ of 201 .*could not be read back"):
            upload_plan(lossy, make_plan(200), timeout=0.3, retries=2, progress=cut)
