"""Mission Planner / QGroundControl "QGC WPL 110" text missions (``.waypoints``, ``.txt``).

First line ``QGC WPL 110``, then one tab-separated line per item::

    INDEX CURRENT FRAME COMMAND P1 P2 P3 P4 X/LAT Y/LON Z/ALT AUTOCONTINUE

Item 0 is the home position (frame 0, altitude above mean sea level), as ArduPilot and Mission
Planner expect; :class:`~mission.plan.Plan` keeps it apart from the items. The format has no fence,
rally points or metadata when written; MAVProxy's fence and rally files in this format (items
5000-5004 and 5100) are read into ``plan.fence`` and ``plan.rally``.

Numbers: latitude and longitude with 8 decimals (about 1 mm), other values with the fewest digits
that read back exactly. NaN ("unset", e.g. the yaw of a waypoint) is written as 0: Mission Planner
writes 0 in that place and .NET's ``double.Parse`` rejects pymavlink's ``nan``, while ArduPilot
ignores these fields (copters take yaw from ``WP_YAW_BEHAVIOR``). So NaN params come back as 0.
"""

from __future__ import annotations

import itertools
import math
import os
import re

from mission.commands import Cmd, Frame
from mission.formats._common import as_float, as_int, fmt_float, home_or_first_position, read_text
from mission.plan import Home, MissionItem, Plan
from mission.plan_items import FENCE_RALLY_COMMANDS, split_fence_rally
from skyscan.atomic import atomic_write_text
from skyscan.errors import InputError

__all__ = ["format_waypoints", "parse_waypoints", "read_waypoints", "write_waypoints"]

HEADER = "QGC WPL 110"
_HEADER_RE = re.compile(r"^QGC WPL (?:PB )?(100|110)\s*$")
#: DO_ commands whose x/y are a latitude/longitude too (written with 8 decimals like positions).
_LOCATED_DO_COMMANDS = frozenset(
    {Cmd.DO_SET_HOME, Cmd.DO_LAND_START, Cmd.DO_SET_ROI_LOCATION, Cmd.DO_SET_ROI}
)
_COLUMNS = "INDEX CURRENT FRAME COMMAND P1 P2 P3 P4 X Y Z AUTOCONTINUE"


def _num(value: float) -> str:
    return fmt_float(value) if math.isfinite(value) else "0"


def _deg(value: float) -> str:
    return f"{value:.8f}" if math.isfinite(value) else "0"


def _line(index: int, current: int, item: MissionItem) -> str:
    cells = [str(index), str(current), str(int(item.frame)), str(int(item.command)),
             *(_num(p) for p in item.params)]
    if item.is_positional or item.command in _LOCATED_DO_COMMANDS:
        cells += [_deg(item.x), _deg(item.y)]
    else:
        cells += [_num(item.x), _num(item.y)]
    cells += [_num(item.z), "1" if item.autocontinue else "0"]
    return "\t".join(cells)


def _home_item(plan: Plan) -> MissionItem:
    """Item 0: the home, or (home unknown) the first position at altitude 0, as Mission Planner does."""
    lat, lon, alt = home_or_first_position(plan)
    return MissionItem(Cmd.NAV_WAYPOINT, Frame.GLOBAL, (0.0, 0.0, 0.0, 0.0), lat, lon, alt)


def format_waypoints(plan: Plan) -> str:
    """The ``QGC WPL 110`` text of ``plan`` (item 0 = home, marked current as Mission Planner does)."""
    lines = [HEADER, _line(0, 1, _home_item(plan))]
    lines += [_line(i, 0, it) for i, it in enumerate(plan.items, start=1)]
    return "\n".join(lines) + "\n"


def write_waypoints(plan: Plan, path: str | os.PathLike) -> None:
    """Write ``plan`` as a ``QGC WPL 110`` file (atomically); fence and rally are not stored."""
    atomic_write_text(path, format_waypoints(plan))


def _parse_line(cells: list[str], where: str) -> tuple[int, MissionItem]:
    if len(cells) != 12:
        raise InputError(f"{where}: expected 12 columns ({_COLUMNS}) separated by tabs, found {len(cells)}; "
                         "fix or remove this line")
    index = as_int(cells[0], "INDEX", where)
    frame = as_int(cells[2], "FRAME", where)
    command = as_int(cells[3], "COMMAND", where)
    p = [as_float(c, name, where) for c, name in zip(cells[4:11], ("P1", "P2", "P3", "P4", "X", "Y", "Z"),
                                                      strict=True)]
    autocontinue = as_int(cells[11], "AUTOCONTINUE", where) != 0
    return index, MissionItem(command, frame, (p[0], p[1], p[2], p[3]), p[4], p[5], p[6], autocontinue)


def parse_waypoints(text: str, source: str | os.PathLike) -> Plan:
    """The :class:`Plan` in ``QGC WPL 100/110`` text: CRLF, tabs or spaces, blank and ``#`` lines allowed."""
    rows = [(n, line.strip()) for n, line in enumerate(text.splitlines(), start=1)]
    rows = [(n, line) for n, line in rows if line and not line.startswith("#")]
    if not rows or not _HEADER_RE.match(rows[0][1]):
        got = rows[0][1][:40] if rows else "an empty file"
        raise InputError(f"{source}: line {rows[0][0] if rows else 1}: expected the header 'QGC WPL 110', "
                         f"found {got!r}; this is not a Mission Planner waypoint file")
    parsed = [_parse_line(line.split(), f"{source}: line {n}") for n, line in rows[1:]]
    plan = Plan()
    if parsed and parsed[0][0] == 0 and parsed[0][1].command not in FENCE_RALLY_COMMANDS:
        _, home = parsed.pop(0)
        if home.x or home.y:  # 0, 0 = no home was set
            plan.home = Home(home.x, home.y, home.z)
    indexes = [i for i, _ in parsed]
    if any(b != a + 1 for a, b in itertools.pairwise(indexes)):
        plan.warnings.append(f"{source}: item numbers are not consecutive; the items were kept in file order")
    plan.items, plan.fence, plan.rally = split_fence_rally([it for _, it in parsed], source)
    return plan


def read_waypoints(path: str | os.PathLike) -> Plan:
    """Read a ``.waypoints`` (QGC WPL) file; item 0 becomes ``plan.home``."""
    return parse_waypoints(read_text(path), path)
