"""Flight report: one offline HTML page saying how a flight went, and how well it followed its plan.

:func:`flight_report` gathers, from a :class:`~telemetry.logs.Log` and optionally the
:class:`~mission.plan.Plan` that was flown:

* the headline figures of :func:`telemetry.logs.summary` (not recomputed here);
* the track over the planned path, waypoints and camera trigger points on a map (:mod:`sensors.webmap`);
* plots (matplotlib, PNG embedded): altitude above home and above mean sea level, flown vs planned;
  ground speed; battery voltage and current;
* cross-track error: the distance of each track sample from the planned path (the polyline through
  the plan's positional items, home where the plan takes off or returns there), computed in the UTM
  frame of the flight, over the samples taken while the mission was flown (see :func:`mission_windows`).

What the inputs cannot give (no plan, no battery data, no mission flown) is said on the page, never an
error. :meth:`FlightReport.write` writes the page atomically.
"""

from __future__ import annotations

import html
import io
import math
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import shapely
from matplotlib.figure import Figure

from mission.commands import Cmd, Frame
from mission.frame import LocalFrame
from mission.plan import Plan
from sensors.webmap import WebMap, img_tag

from .logs.flight import Flight, usable, vehicle_rows
from .logs.summary import FlightSummary, summary
from .logs.tables import Log

__all__ = ["CrossTrack", "FlightReport", "PlannedPath", "Series", "cross_track_m", "flight_report",
           "mission_windows", "planned_path"]

MISSION_MODES = frozenset({"AUTO", "AUTO_MISSION"})  # ArduPilot / PX4 names of "flying the mission"
_RELATIVE_FRAMES = frozenset({Frame.GLOBAL_RELATIVE_ALT, Frame.GLOBAL_RELATIVE_ALT_INT})
_AMSL_FRAMES = frozenset({Frame.GLOBAL, Frame.GLOBAL_INT})
_MAP_POINTS = 5000  # a longer track is simplified (0.5 m tolerance) before it goes on the map
_COLORS = {"track": "#1f77b4", "mission": "#17becf", "plan": "#ff7f0e", "wp": "#9467bd", "photo": "#d62728",
           "home": "#2ca02c"}


# --- planned path ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedPath:
    """The path a plan flies: (lat, lon) vertices, altitude above home (NaN: unknown) and a label each."""

    latlon: np.ndarray
    alt_rel: np.ndarray
    labels: list[str]
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.latlon)


def planned_path(plan: Plan, home: tuple[float, float] | None, home_amsl: float | None = None) -> PlannedPath:
    """The polyline a vehicle flies through ``plan`` from ``home`` (lat, lon).

    Positional items with a position are vertices; a take-off or landing at lat/lon 0 happens where
    the vehicle is (home for a first take-off); RETURN_TO_LAUNCH goes to ``home``. Altitudes are above
    home: relative frames as given, AMSL frames minus ``home_amsl``, terrain frames unknown (NaN).
    """
    pts: list[tuple[float, float]] = []
    alts: list[float] = []
    labels: list[str] = []
    notes: list[str] = []
    terrain = False

    def rel_alt(frame: int, z: float) -> float:
        nonlocal terrain
        if frame in _RELATIVE_FRAMES:
            return z
        if frame in _AMSL_FRAMES:
            return z - home_amsl if home_amsl is not None else math.nan
        terrain = True
        return math.nan

    for i, it in enumerate(plan.items, start=1):
        name = _cmd_name(it.command)
        if it.is_positional:
            if it.x == 0.0 and it.y == 0.0:  # "here": where the vehicle is
                where = pts[-1] if pts else home
                if where is None:
                    notes.append(f"item {i} ({name}) has no position and no home is known: left out")
                    continue
            else:
                where = (it.x, it.y)
            pts.append(where)
            alts.append(rel_alt(it.frame, it.z))
            labels.append(f"item {i}: {name}, {_fmt(alts[-1], '.1f', 'm above home')}")
        elif it.command == Cmd.NAV_RETURN_TO_LAUNCH and home is not None:
            pts.append(home)
            alts.append(math.nan)  # the vehicle chooses its return altitude
            labels.append(f"item {i}: RETURN_TO_LAUNCH (home)")
    if terrain:
        notes.append("items above terrain have no altitude above home here (no terrain data): shown as gaps")
    latlon = np.asarray(pts, dtype=np.float64).reshape(-1, 2)
    return PlannedPath(latlon, np.asarray(alts, dtype=np.float64), labels, notes)


def _cmd_name(command: int) -> str:
    try:
        return Cmd(command).name
    except ValueError:
        return f"command {command}"


# --- cross-track error -----------------------------------------------------------------------------------


def cross_track_m(lat: np.ndarray, lon: np.ndarray, path_latlon: np.ndarray,
                  frame: LocalFrame | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(distance from the path, distance along the path) in metres for each (lat, lon) sample.

    Both are measured in a UTM frame (the one around the path's first vertex unless ``frame`` is
    given), with shapely's vectorised ``distance`` and ``line_locate_point``; the along-path distance
    is that of the nearest point of the path. NaN samples give NaN.
    """
    path_latlon = np.asarray(path_latlon, dtype=np.float64)
    frame = frame or LocalFrame.around(float(path_latlon[0, 1]), float(path_latlon[0, 0]))
    px, py = frame.to_local(path_latlon[:, 1], path_latlon[:, 0])
    geom = shapely.linestrings(np.c_[px, py]) if len(path_latlon) > 1 else shapely.points(px[0], py[0])
    x, y = frame.to_local(np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64))
    ok = np.isfinite(x) & np.isfinite(y)
    dist, along = np.full(x.shape, np.nan), np.full(x.shape, np.nan)
    pts = shapely.points(x[ok], y[ok])
    dist[ok] = shapely.distance(pts, geom)
    along[ok] = shapely.line_locate_point(geom, pts) if len(path_latlon) > 1 else 0.0
    return dist, along


@dataclass(frozen=True)
class CrossTrack:
    """Cross-track error statistics (metres) over the samples flown in the mission windows."""

    samples: int
    duration_s: float
    mean_m: float
    rms_m: float
    p95_m: float
    max_m: float
    windows: list[tuple[float, float]]
    basis: str  # how the windows were chosen, for the reader

    @classmethod
    def of(cls, dist: np.ndarray, time: np.ndarray, windows: list[tuple[float, float]], basis: str) -> CrossTrack:
        """Statistics of the finite ``dist`` values whose ``time`` falls in one of ``windows``."""
        inside = _in_windows(time, windows) & np.isfinite(dist)
        d = dist[inside]
        if not d.size:
            return cls(0, 0.0, math.nan, math.nan, math.nan, math.nan, windows, basis)
        return cls(int(d.size), float(sum(e - s for s, e in windows)), float(d.mean()),
                   float(np.sqrt(np.mean(d * d))), float(np.percentile(d, 95)), float(d.max()), windows, basis)


def _in_windows(time: np.ndarray, windows: list[tuple[float, float]]) -> np.ndarray:
    inside = np.zeros(len(time), bool)
    for s, e in windows:
        inside |= (time >= s) & (time <= e)
    return inside


def _reached_times(log: Log) -> np.ndarray:
    """Times at which the vehicle reported a mission item reached (tlog, ULog); empty when it does not tell."""
    if log.format == "tlog":
        mir = vehicle_rows(log, "MISSION_ITEM_REACHED")
        return np.zeros(0) if mir is None else mir["time"]
    if log.format == "ulog":
        mr = log.get("mission_result")
        if mr is not None and len(mr) and "seq_reached" in mr:
            seq = mr["seq_reached"]
            new = (seq >= 0) & np.concatenate([[True], seq[1:] != seq[:-1]])
            return mr["time"][new]
    return np.zeros(0)


def mission_windows(log: Log, summ: FlightSummary) -> tuple[list[tuple[float, float]], str]:
    """When the mission was being flown: (time spans, how they were found); no spans when it never was.

    The spans in a mission mode (ArduPilot AUTO, PX4 AUTO_MISSION, from the summary's modes), cut to
    the time between the first and the last mission item the vehicle reported reached when the log
    records that (tlog MISSION_ITEM_REACHED, ULog mission_result): the take-off climb before the first
    item and the return after the last are not part of the path.
    """
    auto = [(m.start, m.end) for m in summ.modes if m.name in MISSION_MODES]
    reached = _reached_times(log)
    if reached.size >= 2:
        t0, t1 = float(reached.min()), float(reached.max())
        if auto:
            cut = [(max(s, t0), min(e, t1)) for s, e in auto if min(e, t1) > max(s, t0)]
            return cut, "in AUTO mode, between the first and the last mission item reached"
        if not summ.modes:  # the log has no mode information at all: trust the reached items alone
            return [(t0, t1)], "between the first and the last mission item reached (the log has no modes)"
        return [], "the log shows mission items reached but never a mission (AUTO) mode"
    if auto:
        return auto, "in AUTO mode (the log does not record when mission items were reached)"
    return [], "the log never shows a mission (AUTO) mode"


# --- time series -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Series:
    """A named time series (log clock seconds) with its unit."""

    name: str
    time: np.ndarray
    values: np.ndarray
    unit: str


def battery_series(log: Log) -> list[Series]:
    """Battery voltage and current over time from the sources :func:`summary` uses; [] when none."""
    time = volts = amps = None
    if log.format == "tlog":
        ss = vehicle_rows(log, "SYS_STATUS")
        if ss is not None:
            time = ss["time"]
            volts = np.where(ss["voltage_battery"] == 65535, np.nan, ss["voltage_battery"] / 1000.0)
            amps = np.where(ss["current_battery"] < 0, np.nan, ss["current_battery"] / 100.0)
    elif log.format == "dataflash":
        bat, cur = log.get("BAT"), log.get("CURR")
        if usable(bat, "Volt"):
            if usable(bat, "Instance"):
                bat = bat.take(bat["Instance"] == bat["Instance"].min())
            time, volts = bat["time"], bat["Volt"].astype(np.float64)
            amps = bat["Curr"].astype(np.float64) if usable(bat, "Curr") else None
        elif usable(cur, "Volt"):
            time, volts = cur["time"], cur["Volt"].astype(np.float64)
            amps = cur["Curr"].astype(np.float64) if usable(cur, "Curr") else None
            if cur["Volt"].dtype.kind in "iu":  # old CURR: centivolts and centiamps as integers
                volts = volts / 100.0
                amps = None if amps is None else amps / 100.0
    elif log.format == "ulog":
        bat = log.get("battery_status")
        if bat is not None and len(bat) and "voltage_v" in bat:
            time, volts = bat["time"], bat["voltage_v"].astype(np.float64)
            amps = bat["current_a"].astype(np.float64) if "current_a" in bat else None
    out: list[Series] = []
    if time is not None and volts is not None:
        volts = np.where(volts > 0.1, volts, np.nan)  # 0 V: no battery monitor
        if np.isfinite(volts).any():
            out.append(Series("voltage", time, volts, "V"))
        if amps is not None:
            amps = np.where(amps >= 0, amps, np.nan)
            if np.isfinite(amps).any() and np.isfinite(volts).any():
                out.append(Series("current", time, amps, "A"))
    return out


def terrain_agl(log: Log) -> Series | None:
    """Height above terrain the vehicle reported (tlog TERRAIN_REPORT, DataFlash TERR), when it did."""
    if log.format == "tlog":
        tr = vehicle_rows(log, "TERRAIN_REPORT")
        if tr is not None and "current_height" in tr:
            h = tr["current_height"].astype(np.float64)
            ok = tr["spacing"] > 0 if "spacing" in tr else np.ones(len(tr), bool)  # spacing 0: no terrain data
            if ok.any():
                return Series("AGL (terrain)", tr["time"][ok], h[ok], "m")
    elif log.format == "dataflash":
        terr = log.get("TERR")
        if usable(terr, "CHeight"):
            return Series("AGL (terrain)", terr["time"], terr["CHeight"].astype(np.float64), "m")
    return None


# --- the report ------------------------------------------------------------------------------------------


@dataclass
class FlightReport:
    """Everything the page shows; :meth:`to_html` renders it and :meth:`write` writes it."""

    title: str
    summary: FlightSummary
    flight: Flight
    plan: Plan | None
    path: PlannedPath | None
    home: tuple[float, float] | None
    home_amsl: float | None
    cross_track: CrossTrack | None
    windows: list[tuple[float, float]]
    window_basis: str
    battery: list[Series]
    agl: Series | None
    notes: list[str]
    dist: np.ndarray | None = None  # per track sample, metres from the planned path
    planned_rel: np.ndarray | None = None  # per track sample, planned altitude above home

    def to_html(self) -> str:
        """The report page (self-contained: Leaflet, data and plots inline)."""
        return _build_page(self).to_html()

    def write(self, path: str | os.PathLike) -> Path:
        """Write the page to ``path`` atomically."""
        return _build_page(self).write(path)


def flight_report(log: Log, plan: Plan | None = None, title: str | None = None) -> FlightReport:
    """Gather the report of ``log`` flown against ``plan`` (None: no plan, said on the page)."""
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):  # damaged logs hold NaN and inf
        return _flight_report(log, plan, title)


def _flight_report(log: Log, plan: Plan | None, title: str | None) -> FlightReport:
    summ = summary(log)
    flight = Flight.from_log(log)
    trk = flight.track
    notes: list[str] = []
    name = Path(log.path).name if log.path else "flight log"
    title = title or f"Flight report: {name}"
    has_pos = len(trk) > 0 and bool((np.isfinite(trk["lat"]) & np.isfinite(trk["lon"])).any())
    if not has_pos:
        notes.append("The log has no position data: no map, no altitude profile and no cross-track error.")
    # The log's own home altitude: alt_msl - alt_rel is constant while alt_rel counts from home.
    diff = trk["alt_msl"] - trk["alt_rel"] if len(trk) else np.zeros(0)
    log_home_amsl = float(np.nanmedian(diff)) if np.isfinite(diff).any() else None
    home: tuple[float, float] | None = None
    home_amsl = log_home_amsl
    if plan is not None and plan.home is not None:
        home = (plan.home.lat, plan.home.lon)
        if math.isfinite(plan.home.alt_amsl):
            home_amsl = plan.home.alt_amsl
    elif has_pos:
        first = int(np.flatnonzero(np.isfinite(trk["lat"]) & np.isfinite(trk["lon"]))[0])
        home = (float(trk["lat"][first]), float(trk["lon"][first]))
        if plan is not None:
            notes.append("The plan has no home position: home is taken as the first position in the log.")
    windows, basis = mission_windows(log, summ)
    path = ct = dist = planned_rel = None
    if plan is None:
        notes.append("No plan given (--plan): planned path, planned altitudes and cross-track error are not shown.")
    else:
        path = planned_path(plan, home, home_amsl)
        notes += path.notes
        if len(path) == 0:
            notes.append("The plan has no positional mission items: no planned path to compare with.")
            path = None
    if path is not None and has_pos:
        dist, along = cross_track_m(trk["lat"], trk["lon"], path.latlon)
        planned_rel = _planned_alt_at(path, along)
        if windows:
            ct = CrossTrack.of(dist, trk["time"], windows, basis)
            if ct.samples == 0:
                notes.append("No position samples fall in the mission windows: cross-track error not computed.")
                ct = None
        else:
            notes.append(f"Cross-track error not computed: {basis}.")
    battery = battery_series(log)
    if not battery:
        notes.append("The log has no battery voltage or current data.")
    return FlightReport(title, summ, flight, plan, path, home, home_amsl, ct, windows, basis, battery,
                        terrain_agl(log), notes, dist, planned_rel)


def _planned_alt_at(path: PlannedPath, along: np.ndarray) -> np.ndarray:
    """Planned altitude above home at each along-path distance (linear between vertices, NaN legs stay NaN)."""
    if len(path) < 2:
        return np.full(along.shape, path.alt_rel[0] if len(path) else np.nan)
    frame = LocalFrame.around(float(path.latlon[0, 1]), float(path.latlon[0, 0]))
    x, y = frame.to_local(path.latlon[:, 1], path.latlon[:, 0])
    cum = np.concatenate([[0.0], np.cumsum(np.hypot(np.diff(x), np.diff(y)))])
    return np.interp(along, cum, path.alt_rel)  # NaN at either end of a leg makes the leg NaN


# --- rendering -------------------------------------------------------------------------------------------


def _fmt(v: float | None, spec: str, unit: str = "") -> str:
    if v is None or not math.isfinite(v):
        return "n/a"
    return f"{v:{spec}} {unit}".strip()


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return buf.getvalue()


def _minutes(r: FlightReport, t: np.ndarray) -> np.ndarray:
    return (t - (r.summary.start or 0.0)) / 60.0


def _shade_windows(ax, r: FlightReport) -> None:
    for i, (s, e) in enumerate(r.windows):
        ax.axvspan(*_minutes(r, np.array([s, e])), color=_COLORS["mission"], alpha=0.12,
                   label="mission flown" if i == 0 else None)


def _altitude_png(r: FlightReport) -> bytes | None:
    trk = r.flight.track
    if not len(trk) or not (np.isfinite(trk["alt_msl"]).any() or np.isfinite(trk["alt_rel"]).any()):
        return None
    t = _minutes(r, trk["time"])
    fig = Figure(figsize=(10, 5.5), layout="constrained")
    ax_rel, ax_msl = fig.subplots(2, 1, sharex=True)
    planned = r.planned_rel
    if planned is not None:  # the plan only says where to be while flying it
        planned = np.where(_in_windows(trk["time"], r.windows), planned, np.nan)
    ax_rel.plot(t, trk["alt_rel"], color=_COLORS["track"], lw=1.2, label="flown, above home")
    if r.agl is not None:
        ax_rel.plot(_minutes(r, r.agl.time), r.agl.values, color="#8c564b", lw=1.0, label="flown, above terrain (AGL)")
    if planned is not None and np.isfinite(planned).any():
        ax_rel.plot(t, planned, color=_COLORS["plan"], lw=1.5, ls="--", label="planned, above home")
    ax_rel.set_ylabel("height (m)")
    ax_msl.plot(t, trk["alt_msl"], color=_COLORS["track"], lw=1.2, label="flown, AMSL")
    if planned is not None and r.home_amsl is not None and np.isfinite(planned).any():
        ax_msl.plot(t, planned + r.home_amsl, color=_COLORS["plan"], lw=1.5, ls="--", label="planned, AMSL")
    ax_msl.set_ylabel("altitude AMSL (m)")
    ax_msl.set_xlabel(_time_label(r))
    for ax in (ax_rel, ax_msl):
        _shade_windows(ax, r)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="best", fontsize="small")
    ax_rel.set_title("Altitude profile")
    return _png(fig)


def _speed_png(r: FlightReport) -> bytes | None:
    trk = r.flight.track
    if not len(trk) or not np.isfinite(trk["ground_speed"]).any():
        return None
    fig = Figure(figsize=(10, 3), layout="constrained")
    ax = fig.subplots()
    ax.plot(_minutes(r, trk["time"]), trk["ground_speed"], color=_COLORS["track"], lw=1.0, label="ground speed")
    if r.plan is not None and r.plan.meta.speed_m_s:
        ax.axhline(r.plan.meta.speed_m_s, color=_COLORS["plan"], ls="--", lw=1.2, label="planned speed")
    _shade_windows(ax, r)
    ax.set_ylabel("speed (m/s)")
    ax.set_xlabel(_time_label(r))
    ax.set_title("Ground speed")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    return _png(fig)


def _battery_png(r: FlightReport) -> bytes | None:
    if not r.battery:
        return None
    fig = Figure(figsize=(10, 3), layout="constrained")
    ax = fig.subplots()
    volts = r.battery[0]
    ax.plot(_minutes(r, volts.time), volts.values, color="#2ca02c", lw=1.0)
    ax.set_ylabel("voltage (V)", color="#2ca02c")
    if len(r.battery) > 1:
        amps = r.battery[1]
        ax2 = ax.twinx()
        ax2.plot(_minutes(r, amps.time), amps.values, color="#d62728", lw=0.8, alpha=0.8)
        ax2.set_ylabel("current (A)", color="#d62728")
    _shade_windows(ax, r)
    ax.set_xlabel(_time_label(r))
    ax.set_title("Battery")
    ax.grid(alpha=0.3)
    return _png(fig)


def _cross_track_png(r: FlightReport) -> bytes | None:
    if r.cross_track is None or r.dist is None:
        return None
    trk = r.flight.track
    inside = _in_windows(trk["time"], r.windows)
    fig = Figure(figsize=(10, 3), layout="constrained")
    ax = fig.subplots()
    ax.plot(_minutes(r, trk["time"]), np.where(inside, r.dist, np.nan), color=_COLORS["mission"], lw=1.0)
    ax.axhline(r.cross_track.rms_m, color=_COLORS["plan"], ls="--", lw=1.0, label=f"RMS {r.cross_track.rms_m:.2f} m")
    ax.set_ylabel("distance from plan (m)")
    ax.set_xlabel(_time_label(r))
    ax.set_title("Cross-track error while flying the mission")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    return _png(fig)


def _time_label(r: FlightReport) -> str:
    start = r.summary.start
    if r.summary.utc and start is not None:
        try:
            return f"minutes since {datetime.fromtimestamp(start, UTC):%Y-%m-%d %H:%M:%S} UTC"
        except (ValueError, OverflowError, OSError):
            pass
    return "minutes since the log starts"


def _map_track(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """(lat, lon) rows for the map: simplified (0.5 m) when the track is long, gaps kept out."""
    ok = np.isfinite(lat) & np.isfinite(lon)
    lat, lon = lat[ok], lon[ok]
    if len(lat) <= _MAP_POINTS:
        return np.c_[lat, lon]
    frame = LocalFrame.around(float(lon[0]), float(lat[0]))
    x, y = frame.to_local(lon, lat)
    simple = shapely.get_coordinates(shapely.simplify(shapely.linestrings(np.c_[x, y]), 0.5))
    slon, slat = frame.to_lonlat(simple[:, 0], simple[:, 1])
    return np.c_[slat, slon]


def _build_page(r: FlightReport) -> WebMap:
    m = WebMap(r.title)
    trk, ev = r.flight.track, r.flight.events
    if r.path is not None:
        m.add_polyline("Planned path", r.path.latlon, color=_COLORS["plan"], weight=3, dash="8 6")
        m.add_points("Waypoints", r.path.latlon, popups=r.path.labels, color=_COLORS["wp"], radius=5)
    if len(trk):
        m.add_polyline("Flown track", _map_track(trk["lat"], trk["lon"]), color=_COLORS["track"], weight=2)
        if r.windows:
            inside = _in_windows(trk["time"], r.windows)
            lat = np.where(inside, trk["lat"], np.nan)  # NaN splits the line where the mission was not flown
            m.add_polyline("Track while flying the mission", np.c_[lat, trk["lon"]], color=_COLORS["mission"],
                           weight=3)
    if len(ev) and np.isfinite(ev["lat"]).any():
        popups = [f"photo {i} at {_clock(r, t)}" for i, t in zip(ev["index"].tolist(), ev["time"].tolist(),
                                                                 strict=True)]
        m.add_points("Camera triggers", np.c_[ev["lat"], ev["lon"]], popups=popups, color=_COLORS["photo"], radius=3)
    if r.home is not None:
        m.add_points("Home", [r.home], popups=["home"], color=_COLORS["home"], radius=7)
    for section in _sections(r):
        m.add_html(section)
    return m


def _clock(r: FlightReport, t: float) -> str:
    if r.summary.utc:
        try:
            return f"{datetime.fromtimestamp(t, UTC):%H:%M:%S} UTC"
        except (ValueError, OverflowError, OSError):
            pass
    return f"{t:.1f} s"


def _table(rows: list[tuple[str, str]], css_id: str) -> str:
    body = "".join(f"<tr><th>{html.escape(k)}</th><td class=\"num\">{html.escape(v)}</td></tr>" for k, v in rows)
    return f'<table id="{css_id}">{body}</table>'


def _sections(r: FlightReport) -> list[str]:
    s = r.summary
    out: list[str] = []
    if r.notes:
        out.append('<h2>Notes</h2><ul id="report-notes">'
                   + "".join(f'<li class="skyscan-note">{html.escape(n)}</li>' for n in r.notes) + "</ul>")
    rows = [
        ("log", f"{s.path} ({s.format})"),
        ("start / end", f"{_clock(r, s.start) if s.start is not None else 'n/a'} / "
                        f"{_clock(r, s.end) if s.end is not None else 'n/a'}"),
        ("duration", _fmt(s.duration_s and s.duration_s / 60, ".1f", "min")),
        ("distance flown", _fmt(s.distance_m and s.distance_m / 1000, ".2f", "km")),
        ("max altitude", f"{_fmt(s.max_alt_msl_m, '.1f', 'm AMSL')}, {_fmt(s.max_alt_rel_m, '.1f', 'm above home')}"),
        ("max ground speed", _fmt(s.max_ground_speed_mps, ".1f", "m/s")),
        ("battery used", _fmt(s.battery_used_mah, ".0f", "mAh")),
        ("battery voltage", f"{_fmt(s.battery_voltage_start, '.2f', 'V')} -> {_fmt(s.battery_voltage_end, '.2f', 'V')}"
                            f" (min {_fmt(s.battery_voltage_min, '.2f', 'V')})"),
        ("camera events", str(s.camera_events)),
        ("mission items reached", ", ".join(map(str, s.mission_items_reached)) or "none"),
        ("modes", ", ".join(f"{m.name} {m.duration:.0f} s" for m in s.modes) or "n/a"),
        ("skipped while reading", s.skipped),
    ]
    out.append("<h2>Summary</h2>" + _table(rows, "report-summary"))
    if r.cross_track is not None:
        ct = r.cross_track
        rows = [("samples", str(ct.samples)), ("time flying the mission", _fmt(ct.duration_s / 60, ".1f", "min")),
                ("mean", _fmt(ct.mean_m, ".2f", "m")), ("RMS", _fmt(ct.rms_m, ".2f", "m")),
                ("95th percentile", _fmt(ct.p95_m, ".2f", "m")), ("max", _fmt(ct.max_m, ".2f", "m"))]
        out.append("<h2>Cross-track error</h2>"
                   f"<p>Distance of each track sample from the planned path, {html.escape(ct.basis)}.</p>"
                   + _table(rows, "report-cross-track"))
    figures = [("altitude", "Altitude profile", _altitude_png(r)), ("cross-track", "Cross-track error",
                                                                     _cross_track_png(r)),
               ("speed", "Ground speed", _speed_png(r)), ("battery", "Battery voltage and current", _battery_png(r))]
    shown = [f'<figure id="figure-{key}">{img_tag(png, alt)}</figure>' for key, alt, png in figures if png]
    if shown:
        out.append("<h2>Plots</h2>" + "".join(shown))
    if s.notices:
        items = "".join(f"<li>{html.escape(_clock(r, n.time))} {html.escape(n.severity or '-')} "
                        f"{html.escape(n.text)}</li>" for n in s.notices[:500])
        more = f"<p>... and {len(s.notices) - 500} more.</p>" if len(s.notices) > 500 else ""
        out.append(f'<h2>Messages from the vehicle ({len(s.notices)})</h2><ul id="report-messages">{items}</ul>{more}')
    return out
