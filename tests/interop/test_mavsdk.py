"""Interop with MAVSDK-Python 4.1 (``mavsdk``, the ctypes binding of libmavsdk; sync API) on skyscan's SITL.

MAVSDK connects to the SITL (``tcpout://`` to its TCP port, or ``udpin://`` on a free port the SITL
sends to with ``--udp-out``), uploads a mission with ``MissionRaw`` (item 0 = the home placeholder,
which ArduPilot expects the client to supply), arms with the ``Action`` plugin, starts the mission with
``MissionRaw.start_mission`` (MAVSDK sends DO_SET_MODE AUTO, then MISSION_START) and follows it with
``subscribe_mission_progress`` to the end. A skyscan link over TCP checks what the vehicle stored and
that it really flew: every navigation item reached in order, landed, disarmed.
"""

from __future__ import annotations

import math
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from mission.commands import Frame
from mission.plan import MissionItem
from sitl.process import SitlProcess
from telemetry.link import connect
from telemetry.mission_protocol import compare, download
from telemetry.plan_transfer import mission_items
from tests.interop.conftest import FLIGHT_SPEEDUP, HOME, FlightWatcher, nav_seqs, short_flight_plan

mavsdk = pytest.importorskip("mavsdk", reason="MAVSDK-Python >= 4 (`pip install mavsdk`) is not installed")
if not hasattr(mavsdk, "Mavsdk"):
    pytest.skip(f"mavsdk {getattr(mavsdk, '__version__', '?')} is the old gRPC package; these tests need "
                "mavsdk >= 4 (Mavsdk, add_any_connection, MissionRaw)", allow_module_level=True)

from mavsdk import ComponentType, Configuration, ConnectionResult, Mavsdk  # noqa: E402
from mavsdk.plugins.action import Action, ActionError  # noqa: E402
from mavsdk.plugins.mission_raw import MissionItem as RawItem  # noqa: E402
from mavsdk.plugins.mission_raw import MissionRaw  # noqa: E402


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(params=["tcpout", "udpin"])
def sitl_and_url(request, tmp_path) -> Iterator[tuple[SitlProcess, str]]:
    """A fresh SITL and the MAVSDK connection URL that reaches it: ``tcpout://`` to the SITL's TCP port,
    or ``udpin://`` on a free UDP port the SITL sends to (``--udp-out``)."""
    args, port = [], 0
    if request.param == "udpin":
        port = _free_udp_port()
        args = ["--udp-out", f"127.0.0.1:{port}"]
    with SitlProcess(home=HOME, speedup=FLIGHT_SPEEDUP, listen=["tcp:127.0.0.1:0"], log_dir=tmp_path / "sitl",
                     args=args) as proc:
        tcp = proc.endpoint("tcp")
        yield proc, (f"tcpout://{tcp.host}:{tcp.port}" if request.param == "tcpout" else f"udpin://127.0.0.1:{port}")


def _raw_items(items: list[MissionItem]) -> list[RawItem]:
    """skyscan items (item 0 = home placeholder) as MAVSDK MissionRaw items (MISSION_ITEM_INT fields)."""
    out = []
    for seq, it in enumerate(items):
        positional = it.frame != Frame.MISSION
        x = round(it.x * 1e7) if positional else round(it.x)
        y = round(it.y * 1e7) if positional else round(it.y)
        out.append(RawItem(seq, int(it.frame), int(it.command), 1 if seq == 0 else 0, int(it.autocontinue),
                           *(float(p) for p in it.params), x, y, float(it.z), 0))
    return out


def test_mavsdk_uploads_arms_and_flies_a_mission(sitl_and_url):
    sitl, url = sitl_and_url
    plan = short_flight_plan()
    seqs = nav_seqs(plan)
    sdk = Mavsdk(Configuration.create_with_component_type(ComponentType.GROUND_STATION))
    try:
        assert sdk.add_any_connection(url) == ConnectionResult.SUCCESS
        system = sdk.first_autopilot(15.0)
        assert system is not None, f"MAVSDK found no autopilot on {url}"
        mission = MissionRaw(system)
        with connect(sitl.connection_string("tcp"), timeout=10) as link:
            sent = mission_items(link, plan)  # ArduPilot: item 0 = home, supplied by the client
            mission.upload_mission(_raw_items(sent))
            # What the vehicle holds, read by skyscan, and read back by MAVSDK: what was sent.
            assert compare(sent, download(link), skip_first=True) is None
            back = mission.download_mission()
            assert [(b.seq, b.command, b.frame) for b in back] == [(i, it.command, it.frame) for i, it in
                                                                  enumerate(sent)]
            assert all(math.isclose(b.z, it.z, abs_tol=1e-4) for b, it in zip(back[1:], sent[1:], strict=True))

            progress: list[tuple[int, int]] = []
            lock = threading.Lock()

            def on_progress(p, _user_data) -> None:
                with lock:
                    progress.append((p.current, p.total))

            handle = mission.subscribe_mission_progress(on_progress)
            with FlightWatcher(link) as watcher:
                action = Action(system)
                deadline = time.monotonic() + 30
                while True:  # pre-arm checks fail until the EKF has a position (a few simulated seconds)
                    try:
                        action.arm()
                        break
                    except ActionError as exc:
                        assert time.monotonic() < deadline, f"MAVSDK could not arm: {exc}; vehicle said " \
                                                            f"{watcher.record.texts[-3:]}"
                        time.sleep(0.5)
                mission.start_mission()
                record = watcher.wait_landed(seqs[-1], timeout=60)
            mission.unsubscribe_mission_progress(handle)
    finally:
        sdk.destroy()
    assert record.reached == seqs, record
    assert record.was_armed and not record.armed, record
    assert record.max_rel_alt > 9.0 and abs(record.rel_alt) < 0.5, record
    with lock:
        assert progress and progress[-1] == (len(sent), len(sent)), progress  # MAVSDK saw the mission complete
        assert [c for c, _ in progress] == sorted(c for c, _ in progress)
