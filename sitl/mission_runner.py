"""AUTO mode: executes the stored mission the way ArduCopter's AP_Mission + ModeAuto do.

Navigation commands run one at a time as :mod:`sitl.nav` tasks. When one completes the vehicle sends
MISSION_ITEM_REACHED and "Reached command #N", then walks forward: DO_JUMP is followed (with its
repeat count), DO_ commands met on the way run as the next navigation command starts (so they act
during the leg that follows the completed item, as ArduPilot's do-commands do), unknown commands are
skipped with "Skipping invalid cmd #N". At the end of the mission a landed vehicle disarms and a flying
one holds position, as ArduCopter does.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from mission.commands import Cmd, Frame
from sitl.geo import FlatEarth, bearing_deg, wrap_180
from sitl.items import StoredItem
from sitl.nav import Goto, Hold, Land, Takeoff, Task, const_alt

if TYPE_CHECKING:
    from sitl.autopilot import Autopilot

__all__ = ["NAV_COMMANDS", "MissionRunner"]

NAV_COMMANDS = frozenset(
    {Cmd.NAV_WAYPOINT, Cmd.NAV_LOITER_UNLIM, Cmd.NAV_LOITER_TURNS, Cmd.NAV_LOITER_TIME, Cmd.NAV_RETURN_TO_LAUNCH,
     Cmd.NAV_LAND, Cmd.NAV_TAKEOFF, Cmd.NAV_LOITER_TO_ALT, Cmd.NAV_SPLINE_WAYPOINT, Cmd.NAV_DELAY}
)

# Names ArduPilot prints in "Mission: N <name>".
_NAMES = {
    Cmd.NAV_WAYPOINT: "WP", Cmd.NAV_LOITER_UNLIM: "LoitUnlim", Cmd.NAV_LOITER_TURNS: "LoitTurns",
    Cmd.NAV_LOITER_TIME: "LoitTime", Cmd.NAV_RETURN_TO_LAUNCH: "RTL", Cmd.NAV_LAND: "Land",
    Cmd.NAV_TAKEOFF: "Takeoff", Cmd.NAV_LOITER_TO_ALT: "LoitAltitude", Cmd.NAV_SPLINE_WAYPOINT: "SplineWP",
    Cmd.NAV_DELAY: "Delay", Cmd.CONDITION_YAW: "CondYaw", Cmd.CONDITION_DELAY: "CondDelay", Cmd.DO_JUMP: "Jump",
    Cmd.DO_CHANGE_SPEED: "ChangeSpeed", Cmd.DO_SET_HOME: "SetHome", Cmd.DO_SET_ROI: "SetROI",
    Cmd.DO_SET_ROI_LOCATION: "SetROI", Cmd.DO_SET_ROI_NONE: "SetROI", Cmd.DO_DIGICAM_CONTROL: "DigiCamCtrl",
    Cmd.DO_MOUNT_CONTROL: "MountControl", Cmd.DO_SET_CAM_TRIGG_DIST: "SetCamTrigDst",
    Cmd.DO_SET_CAM_TRIGG_INTERVAL: "SetCamTrigInt", Cmd.DO_FENCE_ENABLE: "FenceEnable",
    Cmd.DO_GIMBAL_MANAGER_PITCHYAW: "GimbalPitchYaw", Cmd.IMAGE_START_CAPTURE: "ImageStartCapture",
    Cmd.IMAGE_STOP_CAPTURE: "ImageStopCapture",
}

# MISSION_STATE values of MISSION_CURRENT.
STATE_NO_MISSION, STATE_NOT_STARTED, STATE_ACTIVE, STATE_PAUSED, STATE_COMPLETE = 1, 2, 3, 4, 5


class MissionRunner:
    """Mission progress: the current navigation item, its task, DO_JUMP counters."""

    def __init__(self, ap: Autopilot):
        self.ap = ap
        self.items: list[StoredItem] = []
        self.current = 0  # seq of the running navigation command (0 = none yet)
        self.task: Task | None = None
        self.state = STATE_NO_MISSION
        self._jumps: dict[int, int] = {}
        self._last_target: tuple[float, float, float] | None = None

    # -- plan -----------------------------------------------------------------------------------------
    def load(self, items: list[StoredItem]) -> None:
        """A new mission (item 0 = home placeholder).

        Flying in AUTO, the vehicle goes on at the same index in the new mission (restarting that item);
        otherwise the new mission starts from its first item.
        """
        self.items = list(items)
        self._jumps.clear()
        if len(self.items) <= 1:
            self.current = 0
            self.state = STATE_NO_MISSION
            if self.task is not None:
                self._complete()
            return
        if self.task is not None and 0 < self.current < len(self.items):
            self._start_from(self.current)
            return
        self.current = 0
        self.state = STATE_NOT_STARTED
        if self.task is not None:
            self._start_from(1)

    @property
    def total(self) -> int:
        """Index of the last item (MISSION_CURRENT.total)."""
        return max(len(self.items) - 1, 0)

    def first_nav_from(self, index: int) -> StoredItem | None:
        """The first navigation command at or after ``index`` (DO_JUMPs not followed)."""
        for it in self.items[max(index, 1):]:
            if it.command in NAV_COMMANDS:
                return it
        return None

    def resume_index(self) -> int:
        """Where entering AUTO starts: the current item (MIS_RESTART = 0) or the first one."""
        if self.state == STATE_COMPLETE or self.current == 0 or self.ap.params["MIS_RESTART"] == 1:
            return 1
        return self.current

    # -- execution ------------------------------------------------------------------------------------
    def start(self, index: int | None = None) -> None:
        """Start (or resume) the mission at ``index`` (default: :meth:`resume_index`)."""
        if index is None:
            index = self.resume_index()
        if index == 1:
            self._jumps.clear()
            self.ap.reset_mission_effects()
        self._last_target = None
        self._start_from(index)

    def stop(self) -> None:
        """Leaving AUTO: the task is dropped, progress is kept for a resume."""
        self.task = None
        if self.state == STATE_ACTIVE:
            self.state = STATE_PAUSED

    def set_current(self, seq: int) -> bool:
        """MISSION_SET_CURRENT / DO_SET_MISSION_CURRENT: continue at ``seq`` (restarts it when flying AUTO)."""
        if not 0 <= seq < len(self.items) or len(self.items) <= 1:
            return False
        seq = max(seq, 1)
        if self.task is not None:
            self._start_from(seq)
        else:
            self.current = seq
            self.state = STATE_NOT_STARTED if self.state == STATE_COMPLETE else self.state
            self.ap.mission_current_changed()
        return True

    def update(self) -> None:
        """Called every step in AUTO: advance when the navigation task is done."""
        task = self.task
        if task is None or not task.done or self.state != STATE_ACTIVE:
            return
        seq = self.current
        self.ap.out.statustext(f"Reached command #{seq}")
        self.ap.out.send(self.ap.out.mav.mission_item_reached_encode(seq))
        if isinstance(task, Goto | Takeoff):
            self._last_target = (task.n, task.e, task.alt(task.n, task.e) if isinstance(task, Goto) else task.u)
        self._start_from(seq + 1)

    def _start_from(self, index: int) -> None:
        """Walk from ``index`` to the next navigation command and start it, then the DO commands met."""
        ap = self.ap
        dos: list[int] = []
        i = index
        guard = 0
        while 0 < i < len(self.items):
            guard += 1
            if guard > 4 * len(self.items) + 1000:  # DO_JUMPs that loop without any navigation
                break
            it = self.items[i]
            if it.command == Cmd.DO_JUMP:
                target, repeat = int(it.p1), int(it.p2)
                left = self._jumps.setdefault(i, repeat)
                if left != 0 and 1 <= target < len(self.items):
                    if left > 0:
                        self._jumps[i] = left - 1
                    ap.out.statustext(f"Mission: {i} Jump to {target}")
                    i = target
                    continue
                i += 1
                continue
            if it.command in NAV_COMMANDS:
                self.current = i
                self.state = STATE_ACTIVE
                ap.out.statustext(f"Mission: {i} {_NAMES.get(it.command, 'Cmd')}")
                self.task = self._nav_task(i, it)
                ap.mission_current_changed()
                for j in dos:
                    self._run_do(j)
                return
            dos.append(i)
            i += 1
        for j in dos:
            self._run_do(j)
        self._complete()

    def _run_do(self, i: int) -> None:
        it = self.items[i]
        ap = self.ap
        if ap.do_command(it.command, (it.p1, it.p2, it.p3, it.p4, it.p5, it.p6, it.z), it.frame, in_mission=True):
            ap.out.statustext(f"Mission: {i} {_NAMES.get(it.command, 'Cmd')}")
        else:
            ap.out.statustext(f"Skipping invalid cmd #{i}", 4)

    def _complete(self) -> None:
        ap = self.ap
        self.state = STATE_COMPLETE
        self.current = len(self.items) - 1 if len(self.items) > 1 else 0
        ap.mission_current_changed()
        if ap.vehicle.on_ground:
            self.task = None
            ap.disarm()
        elif isinstance(self.task, Goto):  # hold at the last waypoint, like ArduCopter's exit_mission (loiter)
            last = self.task
            self.task = Hold(last.n, last.e, last.alt(last.n, last.e), ap.nav_speed)
        else:
            self.task = Hold.here(ap.vehicle, ap.nav_speed)

    # -- navigation commands ------------------------------------------------------------------------
    def _nav_task(self, i: int, it: StoredItem) -> Task:
        ap = self.ap
        v = ap.vehicle
        cmd = it.command
        speed = ap.nav_speed
        if cmd == Cmd.NAV_TAKEOFF:
            u = ap.alt_target(it, v.n, v.e)(v.n, v.e)
            task: Task = Takeoff(v, max(u, v.u if not v.on_ground else u), ap.vehicle.limits.speed_up, speed)
            self._last_target = None
            return task
        if cmd == Cmd.NAV_RETURN_TO_LAUNCH:
            return ap.make_rtl()
        if cmd == Cmd.NAV_LAND:
            if it.x or it.y:
                n, e = ap.frame.to_ne(it.lat, it.lon)
                return Land(ap.params, v, speed, n, e, ap.wp_radius)
            return Land(ap.params, v, speed)
        # Positional commands that fly to a point: waypoints, loiters, delays.
        if (it.x or it.y) and cmd != Cmd.NAV_DELAY:
            n, e = ap.frame.to_ne(it.lat, it.lon)
        elif self._last_target is not None:
            n, e = self._last_target[0], self._last_target[1]
        else:
            n, e = v.n, v.e
        if cmd == Cmd.NAV_DELAY:
            alt = const_alt(v.u)
        elif it.z == 0 and not (it.x or it.y) and it.frame in (Frame.GLOBAL_RELATIVE_ALT,
                                                                Frame.GLOBAL_RELATIVE_ALT_INT):
            alt = const_alt(v.u)  # an all-zero location means "here", altitude included
        else:
            alt = ap.alt_target(it, n, e)
        origin = self._last_target or (v.n, v.e, v.u)
        hold = 0.0
        radius = it.p2 if cmd in (Cmd.NAV_WAYPOINT, Cmd.NAV_SPLINE_WAYPOINT) and it.p2 > 0 else ap.wp_radius
        if cmd in (Cmd.NAV_WAYPOINT, Cmd.NAV_SPLINE_WAYPOINT):
            hold = max(it.p1, 0.0)
            ap.fixed_yaw = it.p4 % 360.0 if math.isfinite(it.p4) and cmd == Cmd.NAV_WAYPOINT else None
        elif cmd in (Cmd.NAV_LOITER_TIME, Cmd.NAV_DELAY):
            hold = max(it.p1, 0.0)
        elif cmd == Cmd.NAV_LOITER_UNLIM:
            hold = math.inf
        end_speed = self._corner_speed(i, origin, (n, e), speed) if hold <= 0 else 0.0
        terrain = it.frame in (Frame.GLOBAL_TERRAIN_ALT, Frame.GLOBAL_TERRAIN_ALT_INT)
        return Goto(origin, n, e, alt, speed, radius, hold, end_speed, terrain)

    def _corner_speed(self, i: int, origin: tuple[float, float, float], target: tuple[float, float],
                      speed: float) -> float:
        """Speed allowed through a pass-through waypoint: full on a straight line, none at 90 deg or more."""
        nxt = None
        for it in self.items[i + 1:]:
            if it.command in NAV_COMMANDS:
                nxt = it
                break
            if it.command == Cmd.DO_JUMP:
                return 0.0
        if nxt is None or nxt.command not in (Cmd.NAV_WAYPOINT, Cmd.NAV_SPLINE_WAYPOINT) or not (nxt.x or nxt.y):
            return 0.0
        if math.hypot(target[0] - origin[0], target[1] - origin[1]) < 1.0:
            return 0.0
        frame: FlatEarth = self.ap.frame
        nn, ne = frame.to_ne(nxt.lat, nxt.lon)
        if math.hypot(nn - target[0], ne - target[1]) < 1.0:
            return 0.0
        turn = abs(wrap_180(bearing_deg(nn - target[0], ne - target[1])
                            - bearing_deg(target[0] - origin[0], target[1] - origin[1])))
        return speed * max(0.0, math.cos(math.radians(turn)))
