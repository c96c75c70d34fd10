"""Mission, fence and rally transfer over real sockets, with ArduPilot's quirks."""

from __future__ import annotations

import math

import pytest

from tests.sitl.client import Item, home_placeholder, item_int_xy, mavlink, survey_items
from tests.sitl.conftest import HOME

ACCEPTED = mavlink.MAV_MISSION_ACCEPTED


@pytest.fixture
def gcs(sitl_factory, gcs_factory):
    """A GCS on a SITL at 5x (re-requests after 0.2 s of wall time)."""
    return gcs_factory(sitl_factory(speedup=5).connection_string())


def survey() -> list[Item]:
    items = survey_items(HOME[:2], [(0, 0), (100, 0), (100, 30), (0, 30)])
    items.insert(4, Item(203, 2, (0, 0, 0, 0), 1, 0, 0))  # DO_DIGICAM_CONTROL shoot
    return items


def assert_same(sent: list[Item], got: list, skip_home: bool = True) -> None:
    assert len(got) == len(sent)
    for seq, (it, m) in enumerate(zip(sent, got, strict=True)):
        if skip_home and seq == 0:
            continue
        assert (m.command, m.frame) == (it.command, it.frame), seq
        x, y = item_int_xy(it)
        assert (m.x, m.y) == (x, y), seq
        assert m.z == pytest.approx(it.z, abs=1e-4)
        for a, b in zip((m.param1, m.param2, m.param3, m.param4), it.params, strict=True):
            assert (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, abs=1e-5), seq


def test_upload_with_legacy_requests_then_download(gcs):
    items = survey()
    ack, requested, _nacks = gcs.upload(items)
    assert ack.type == ACCEPTED
    assert requested == list(range(len(items)))
    kinds = {m.get_type() for m in gcs.seen}
    assert "MISSION_REQUEST" in kinds and "MISSION_REQUEST_INT" not in kinds  # ArduPilot's legacy request
    got = gcs.download()
    assert_same(items, got)
    home = got[0]
    assert (home.command, home.frame) == (16, 0)  # item 0 is the vehicle's home, not the placeholder
    assert home.x == pytest.approx(HOME[0] * 1e7, abs=2) and home.z == pytest.approx(HOME[2], abs=0.01)
    got_float = gcs.download(use_int=False)
    assert got_float[2].x == pytest.approx(items[2].x, abs=5e-6)  # float32 degrees
    gcs.mav.param_request_read_send(1, 1, b"MIS_TOTAL", -1)
    assert gcs.wait("PARAM_VALUE", lambda m: m.param_id == "MIS_TOTAL").param_value == len(items)


def test_dropped_item_is_requested_again(gcs):
    items = survey()
    ack, requested, _ = gcs.upload(items, answer=lambda seq, nth: not (seq == 3 and nth == 1))
    assert ack.type == ACCEPTED
    assert requested.count(3) == 2 and requested == sorted(requested)
    assert_same(items, gcs.download())


def test_out_of_order_item_is_ignored(gcs):
    items = survey()
    sent_wrong = []

    def answer(seq, nth):
        if seq == 2 and nth == 1:
            gcs.send_item(4, items[4])  # the wrong item first: NACKed, not stored
            sent_wrong.append(seq)
        return True

    ack, _requested, nacks = gcs.upload(items, answer=answer)
    assert ack.type == ACCEPTED and sent_wrong
    assert nacks == [mavlink.MAV_MISSION_INVALID_SEQUENCE]  # ArduPilot NACKs it and keeps going
    assert_same(items, gcs.download())


def test_float_items_are_accepted_with_a_warning(gcs):
    items = survey()
    ack, _, _ = gcs.upload(items, use_float=True)
    assert ack.type == ACCEPTED
    assert any("MISSION_ITEM_INT" in t for t in gcs.statustexts())
    got = gcs.download()
    assert got[2].x == pytest.approx(items[2].x * 1e7, abs=40)  # sent as float32 degrees


def test_failed_upload_keeps_the_old_mission(gcs):
    items = survey()
    assert gcs.upload(items)[0].type == ACCEPTED
    bad = [*items[:3], Item(16, 3, (0, 0, 0, 0), 95.0, 149.0, 30)]
    assert gcs.upload(bad)[0].type == mavlink.MAV_MISSION_INVALID_PARAM5_X
    bad = [*items[:3], Item(16, 3, (0, 0, 0, 0), -35.0, 190.0, 30)]
    assert gcs.upload(bad)[0].type == mavlink.MAV_MISSION_INVALID_PARAM6_Y
    bad = [*items[:3], Item(16, 1, (0, 0, 0, 0), -35.0, 149.0, 30)]  # MAV_FRAME_LOCAL_NED
    assert gcs.upload(bad)[0].type == mavlink.MAV_MISSION_UNSUPPORTED_FRAME
    assert_same(items, gcs.download())


def test_no_space_above_the_item_limit(sitl_factory, gcs_factory):
    gcs = gcs_factory(sitl_factory(speedup=5, args=["--max-items", "10"]).connection_string())
    gcs.mav.mission_count_send(1, 1, 11, 0)
    assert gcs.wait("MISSION_ACK").type == mavlink.MAV_MISSION_NO_SPACE
    items = [home_placeholder()] + [Item(16, 3, (0, 0, 0, 0), -35.36, 149.16, 30)] * 9
    assert gcs.upload(items)[0].type == ACCEPTED


def test_second_uploader_is_denied_and_silence_cancels(sitl_factory, gcs_factory):
    sitl = sitl_factory(speedup=20)
    one = gcs_factory(sitl.connection_string())
    two = gcs_factory(sitl.connection_string(), sysid=250)
    one.mav.mission_count_send(1, 1, 5, 0)
    one.wait("MISSION_REQUEST", lambda m: m.seq == 0)
    two.mav.mission_count_send(1, 1, 3, 0)
    assert two.wait("MISSION_ACK", lambda m: m.target_system == 250).type == mavlink.MAV_MISSION_DENIED
    two.mav.mission_request_list_send(1, 1, 0)
    assert two.wait("MISSION_ACK", lambda m: m.target_system == 250).type == mavlink.MAV_MISSION_DENIED
    # The uploading GCS never answers: re-requests every second (sim), then OPERATION_CANCELLED after 8 s.
    ack = one.wait("MISSION_ACK", lambda m: m.target_system == 255, timeout=5)
    assert ack.type == mavlink.MAV_MISSION_OPERATION_CANCELLED
    rerequests = [m for m in one.seen if m.get_type() == "MISSION_REQUEST" and m.seq == 0]
    assert 5 <= len(rerequests) <= 10


def test_same_gcs_may_restart_an_upload(gcs):
    gcs.mav.mission_count_send(1, 1, 7, 0)
    gcs.wait("MISSION_REQUEST", lambda m: m.seq == 0)
    items = survey()
    assert gcs.upload(items)[0].type == ACCEPTED
    assert len(gcs.download()) == len(items)


def test_clear_all(gcs):
    assert gcs.upload(survey())[0].type == ACCEPTED
    gcs.mav.mission_clear_all_send(1, 1, 0)
    assert gcs.wait("MISSION_ACK").type == ACCEPTED
    assert len(gcs.download()) == 1  # home only


def test_request_int_option(sitl_factory, gcs_factory):
    gcs = gcs_factory(sitl_factory(speedup=5, args=["--mission-request", "int"]).connection_string())
    assert gcs.upload(survey())[0].type == ACCEPTED
    assert "MISSION_REQUEST_INT" in {m.get_type() for m in gcs.seen}


def fence_items() -> list[Item]:
    lat, lon = HOME[:2]
    d = 0.002
    square = [(lat - d, lon - d), (lat - d, lon + d), (lat + d, lon + d), (lat + d, lon - d)]
    items = [Item(5001, 5, (4, 0, 0, 0), a, b, 0) for a, b in square]
    items.append(Item(5004, 5, (20, 0, 0, 0), lat + 0.001, lon, 0))
    items.append(Item(5000, 5, (0, 0, 0, 0), lat, lon, 20))
    return items


def test_fence_and_rally_upload_download(gcs):
    fence = fence_items()
    assert gcs.upload(fence, mission_type=1)[0].type == ACCEPTED
    assert_same(fence, gcs.download(mission_type=1), skip_home=False)
    rally = [Item(5100, 6, (0, 0, 0, 0), HOME[0] + 0.0005, HOME[1], 25)]
    assert gcs.upload(rally, mission_type=2)[0].type == ACCEPTED
    assert_same(rally, gcs.download(mission_type=2), skip_home=False)
    # Each type is stored separately.
    assert len(gcs.download(mission_type=0)) == 1
    bad = [Item(5001, 5, (4, 0, 0, 0), HOME[0], HOME[1], 0)] * 3  # says 4 vertices, has 3
    assert gcs.upload(bad, mission_type=1)[0].type == mavlink.MAV_MISSION_INVALID
    assert gcs.upload([Item(16, 3, (0, 0, 0, 0), HOME[0], HOME[1], 0)], mission_type=2)[0].type == \
        mavlink.MAV_MISSION_UNSUPPORTED
    assert_same(fence, gcs.download(mission_type=1), skip_home=False)
    gcs.mav.mission_clear_all_send(1, 1, mavlink.MAV_MISSION_TYPE_ALL)
    assert gcs.wait("MISSION_ACK").type == ACCEPTED
    assert gcs.download(mission_type=1) == [] and gcs.download(mission_type=2) == []
