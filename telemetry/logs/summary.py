"""Flight summary: the figures a pilot checks after landing, from any log format.

:func:`summary` returns a :class:`FlightSummary`: duration, distance flown, maximum altitudes, battery
used, flight modes with their times, mission items reached, camera events, and the errors and warnings
the vehicle reported (STATUSTEXT in tlogs, MSG/ERR in DataFlash, logged messages in ULog). Figures the
log cannot give are None, never zero.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

import numpy as np

from .flight import camera_events, track, usable, vehicle_rows
from .geo import haversine_m
from .modes import ModeSpan, mode_names, mode_spans, px4_custom_mode_name, px4_nav_state_name
from .tables import Log, Table

__all__ = ["FlightSummary", "Notice", "summary"]

_STATIONARY_MPS = 0.5  # segments slower than this at both ends are GPS jitter on the ground, not flight
_SEVERITY = ("EMERGENCY", "ALERT", "CRITICAL", "ERROR", "WARNING", "NOTICE", "INFO", "DEBUG")
_MAV_AUTOPILOT_PX4 = 12


@dataclass(frozen=True)
class Notice:
    """A text message from the vehicle: time, severity name ('' when the format has none) and text."""

    time: float
    severity: str
    text: str


@dataclass(frozen=True)
class FlightSummary:
    """Headline figures of one log; None where the log does not tell."""

    path: str | None
    format: str
    utc: bool
    start: float | None
    end: float | None
    duration_s: float | None
    distance_m: float | None
    max_alt_msl_m: float | None
    max_alt_rel_m: float | None
    max_ground_speed_mps: float | None
    battery_used_mah: float | None
    battery_voltage_start: float | None
    battery_voltage_end: float | None
    battery_voltage_min: float | None
    modes: list[ModeSpan] = field(default_factory=list)
    mission_items_reached: list[int] = field(default_factory=list)
    camera_events: int = 0
    notices: list[Notice] = field(default_factory=list)  # errors and warnings (all MSG texts for DataFlash)
    message_counts: dict[str, int] = field(default_factory=dict)
    skipped: str = "nothing skipped"

    def to_dict(self) -> dict[str, object]:
        """Plain data (JSON-ready)."""
        d = asdict(self)
        d["modes"] = [{"name": m.name, "start": m.start, "end": m.end, "duration_s": m.duration} for m in self.modes]
        return d

    def to_text(self) -> str:
        """Human-readable lines for the CLI."""
        def num(v: float | None, fmt: str, unit: str) -> str:
            return "n/a" if v is None else f"{v:{fmt}} {unit}"

        def when(t: float | None) -> str:
            if t is None:
                return "n/a"
            if self.utc:
                try:
                    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
                except (ValueError, OverflowError, OSError):  # a damaged log can hold any number
                    pass
            return f"{t:.1f} s"

        lines = [
            f"log:            {self.path} ({self.format})",
            f"start / end:    {when(self.start)} / {when(self.end)}",
            f"duration:       {num(self.duration_s and self.duration_s / 60, '.1f', 'min')}",
            f"distance:       {num(self.distance_m and self.distance_m / 1000, '.2f', 'km')}",
            f"max altitude:   {num(self.max_alt_msl_m, '.1f', 'm MSL')}, {num(self.max_alt_rel_m, '.1f', 'm rel')}",
            f"max speed:      {num(self.max_ground_speed_mps, '.1f', 'm/s')}",
            f"battery used:   {num(self.battery_used_mah, '.0f', 'mAh')} (voltage "
            f"{num(self.battery_voltage_start, '.2f', 'V')} -> {num(self.battery_voltage_end, '.2f', 'V')}, "
            f"min {num(self.battery_voltage_min, '.2f', 'V')})",
            f"camera events:  {self.camera_events}",
            f"mission items:  {', '.join(map(str, self.mission_items_reached)) or 'none'}",
            "modes:          " + (", ".join(f"{m.name} {m.duration:.0f}s" for m in self.modes) or "n/a"),
            f"skipped:        {self.skipped}",
        ]
        if self.notices:
            lines.append(f"messages ({len(self.notices)}):")
            lines += [f"  {when(n.time)}  {n.severity or '-':9} {n.text}" for n in self.notices]
        return "\n".join(lines)


def _f(v) -> float | None:
    return None if v is None or not np.isfinite(v) else float(v)


def _finite_max(a: np.ndarray) -> float | None:
    a = a[np.isfinite(a)]
    return float(a.max()) if a.size else None


def _time_span(log: Log) -> tuple[float | None, float | None]:
    lo, hi = np.inf, -np.inf
    for t in log.tables.values():
        if "time" in t and len(t):
            tt = t["time"][np.isfinite(t["time"])]
            if tt.size:
                lo, hi = min(lo, float(tt.min())), max(hi, float(tt.max()))
    return (lo, hi) if lo <= hi else (None, None)


def distance_flown(trk: Table) -> float | None:
    """Length of the track in metres, leaving out jitter while standing (both ends below 0.5 m/s)."""
    ok = np.isfinite(trk["lat"]) & np.isfinite(trk["lon"])
    if ok.sum() < 2:
        return None
    lat, lon, spd = trk["lat"][ok], trk["lon"][ok], trk["ground_speed"][ok]
    seg = haversine_m(lat[:-1], lon[:-1], lat[1:], lon[1:])
    standing = (spd[:-1] < _STATIONARY_MPS) & (spd[1:] < _STATIONARY_MPS)  # NaN speed compares False: kept
    return float(seg[~standing].sum())


def summary(log: Log) -> FlightSummary:
    """Summarise a log (see the module docstring)."""
    # A damaged log can hold NaN, inf or absurd values; they must not turn into warnings or errors here.
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        return _summary(log)


def _summary(log: Log) -> FlightSummary:
    trk = track(log)
    start, end = _time_span(log)
    battery = {"tlog": _tlog_battery, "dataflash": _df_battery, "ulog": _ulog_battery}.get(log.format)
    used, v0, v1, vmin = battery(log) if battery else (None, None, None, None)
    extract = {"tlog": _tlog_extras, "dataflash": _df_extras, "ulog": _ulog_extras}.get(log.format)
    modes, reached, notices = extract(log, end or 0.0) if extract else ([], [], [])
    return FlightSummary(
        path=str(log.path) if log.path else None,
        format=log.format,
        utc=log.utc,
        start=start,
        end=end,
        duration_s=None if start is None else end - start,
        distance_m=distance_flown(trk),
        max_alt_msl_m=_finite_max(trk["alt_msl"]),
        max_alt_rel_m=_finite_max(trk["alt_rel"]),
        max_ground_speed_mps=_finite_max(trk["ground_speed"]),
        battery_used_mah=_f(used),
        battery_voltage_start=_f(v0),
        battery_voltage_end=_f(v1),
        battery_voltage_min=_f(vmin),
        modes=modes,
        mission_items_reached=reached,
        camera_events=len(camera_events(log)),
        notices=notices,
        message_counts=dict(log.counts),
        skipped=log.skipped.describe(),
    )


def _voltages(v: np.ndarray) -> tuple[float | None, float | None, float | None]:
    v = v[np.isfinite(v) & (v > 0.1)]
    return (float(v[0]), float(v[-1]), float(v.min())) if v.size else (None, None, None)


def _tlog_battery(log: Log):
    used = None
    bs = vehicle_rows(log, "BATTERY_STATUS")
    if bs is not None:
        bs = bs.take(bs["id"] == bs["id"].min())
        c = bs["current_consumed"][bs["current_consumed"] >= 0]  # -1: not measured
        if c.size:
            used = float(c[-1] - c[0])
    ss = vehicle_rows(log, "SYS_STATUS")
    if ss is None:
        return used, None, None, None
    volts = np.where(ss["voltage_battery"] == 65535, np.nan, ss["voltage_battery"] / 1000.0)
    if used is None:
        amps = np.where(ss["current_battery"] < 0, np.nan, ss["current_battery"] / 100.0)
        ok = np.isfinite(amps)
        if ok.sum() > 1:
            used = float(np.trapezoid(amps[ok], ss["time"][ok]) / 3.6)  # A*s -> mAh
    return (used, *_voltages(volts))


def _df_battery(log: Log):
    bat = log.get("BAT")
    if usable(bat, "Volt"):
        bat = bat.take(bat["Instance"] == bat["Instance"].min()) if usable(bat, "Instance") else bat
        used = float(bat["CurrTot"][-1] - bat["CurrTot"][0]) if usable(bat, "CurrTot") else None
        return (used, *_voltages(bat["Volt"].astype(np.float64)))
    cur = log.get("CURR")
    if usable(cur, "Volt"):
        used = float(cur["CurrTot"][-1] - cur["CurrTot"][0]) if usable(cur, "CurrTot") else None
        volts = cur["Volt"].astype(np.float64)
        if cur["Volt"].dtype.kind in "iu":  # old CURR logs volts as int16 centivolts (no FMTU units then)
            volts = volts / 100.0
        return (used, *_voltages(volts))
    return None, None, None, None


def _ulog_battery(log: Log):
    bat = log.get("battery_status")
    if bat is None or not len(bat):
        return None, None, None, None
    used = None
    if "discharged_mah" in bat:
        d = bat["discharged_mah"][np.isfinite(bat["discharged_mah"])]
        used = float(d[-1] - d[0]) if d.size else None
    return (used, *_voltages(bat["voltage_v"].astype(np.float64)))


def _tlog_extras(log: Log, end: float):
    modes: list[ModeSpan] = []
    hb = vehicle_rows(log, "HEARTBEAT")
    if hb is not None:
        if int(hb["autopilot"][0]) == _MAV_AUTOPILOT_PX4:
            names = [px4_custom_mode_name(m) for m in hb["custom_mode"].tolist()]
            modes = mode_spans(hb["time"], hb["custom_mode"], names, end)
        else:
            modes = mode_spans(hb["time"], hb["custom_mode"], mode_names(mav_type=int(hb["type"][0])), end)
    reached: list[int] = []
    mir = vehicle_rows(log, "MISSION_ITEM_REACHED")
    if mir is not None:
        seq = mir["seq"]
        keep = np.concatenate([[True], seq[1:] != seq[:-1]])  # the vehicle repeats the message
        reached = [int(s) for s in seq[keep]]
    notices: list[Notice] = []
    st = vehicle_rows(log, "STATUSTEXT")
    if st is not None:
        warn = st.take(st["severity"] <= 4)  # EMERGENCY..WARNING
        notices = [Notice(t, _SEVERITY[sev], text) for t, sev, text in
                   zip(warn["time"].tolist(), warn["severity"].tolist(), warn.text("text"), strict=True)]
    return modes, reached, notices


def _df_extras(log: Log, end: float):
    modes: list[ModeSpan] = []
    mode = log.get("MODE")
    if usable(mode, "ModeNum") or usable(mode, "Mode"):
        code = mode["ModeNum"] if usable(mode, "ModeNum") else mode["Mode"]
        modes = mode_spans(mode["time"], code, mode_names(str(log.info.get("vehicle", ""))), end)
    reached: list[int] = []
    cmd = log.get("CMD")
    if usable(cmd, "CNum"):
        seq = cmd["CNum"]
        keep = np.concatenate([[True], seq[1:] != seq[:-1]])
        reached = [int(s) for s in seq[keep]]  # commands started by the autopilot, in order
    notices: list[Notice] = []
    msg = log.get("MSG")
    if msg is not None and "Message" in msg and msg["Message"].dtype.kind == "S":
        notices += [Notice(t, "", s) for t, s in zip(msg["time"].tolist(), msg.text("Message"), strict=True)]
    err = log.get("ERR")
    if usable(err, "Subsys", "ECode"):
        notices += [Notice(t, "ERROR", f"subsystem {s} error code {e}")
                    for t, s, e in zip(err["time"].tolist(), err["Subsys"].tolist(), err["ECode"].tolist(),
                                       strict=True)]
    notices.sort(key=lambda n: n.time)
    return modes, reached, notices


def _ulog_extras(log: Log, end: float):
    modes: list[ModeSpan] = []
    vs = log.get("vehicle_status")
    if vs is not None and len(vs) and "nav_state" in vs:
        names = [px4_nav_state_name(s) for s in vs["nav_state"].tolist()]
        modes = mode_spans(vs["time"], vs["nav_state"], names, end)
    reached: list[int] = []
    mr = log.get("mission_result")
    if mr is not None and len(mr) and "seq_reached" in mr:
        seq = mr["seq_reached"][mr["seq_reached"] >= 0]
        keep = np.concatenate([[True], seq[1:] != seq[:-1]]) if seq.size else np.zeros(0, bool)
        reached = [int(s) for s in seq[keep]]
    notices: list[Notice] = []
    lg = log.get("logging")
    if lg is not None:
        warn = lg["level"] <= 4
        notices = [Notice(t, _SEVERITY[lv], s.decode("utf-8", "replace"))
                   for t, lv, s in zip(lg["time"][warn].tolist(), lg["level"][warn].tolist(),
                                       lg["message"][warn].tolist(), strict=True)]
    return modes, reached, notices
