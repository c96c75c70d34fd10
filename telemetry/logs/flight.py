"""A flight as later stages need it: the vehicle's track and its camera events, on the log's clock.

:func:`track` and :func:`camera_events` hide the log format. Both return a :class:`Table` with the
same columns whatever the source, angles in degrees, distances in metres, ``time`` in UTC seconds
when :attr:`Log.utc` (else seconds since boot), NaN where the log has no value:

* track: ``time, lat, lon, alt_msl, alt_rel, ground_speed, roll, pitch, yaw`` (yaw 0-360, attitude
  interpolated onto the position timestamps);
* camera events: ``index, time, lat, lon, alt_msl, alt_rel, roll, pitch, yaw, source, interpolated``
  (``interpolated`` marks events whose pose comes from the track because the event carried none).

Sources, best first: tlog GLOBAL_POSITION_INT (else GPS_RAW_INT) + ATTITUDE, events CAMERA_FEEDBACK >
CAMERA_IMAGE_CAPTURED > CAMERA_TRIGGER; DataFlash POS (else GPS) + ATT, events CAM > TRIG; ULog
vehicle_global_position (else vehicle_gps_position / sensor_gps) + vehicle_attitude, events
camera_capture > camera_trigger; MRK: the events themselves (the MRK track is the photo positions).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .geo import interp, interp_angle_deg, quat_to_euler_deg
from .gpstime import gps_to_unix
from .tables import Log, Table

__all__ = ["EVENT_COLUMNS", "TRACK_COLUMNS", "Flight", "camera_events", "track", "usable", "vehicle_id",
           "vehicle_rows"]

TRACK_COLUMNS = ("time", "lat", "lon", "alt_msl", "alt_rel", "ground_speed", "roll", "pitch", "yaw")
EVENT_COLUMNS = ("index", "time", "lat", "lon", "alt_msl", "alt_rel", "roll", "pitch", "yaw", "source",
                 "interpolated")
_UNITS = {"time": "s", "lat": "deg", "lon": "deg", "alt_msl": "m", "alt_rel": "m", "ground_speed": "m/s",
          "roll": "deg", "pitch": "deg", "yaw": "deg"}
_MAV_TYPE_GCS, _MAV_AUTOPILOT_INVALID = 6, 8


@dataclass(frozen=True, eq=False)
class Flight:
    """The track and camera events of one log, ready for geotagging and reports."""

    track: Table
    events: Table
    utc: bool
    source: Path | None
    format: str

    @classmethod
    def from_log(cls, log: Log) -> Flight:
        """Track and camera events of ``log`` (see :func:`track` and :func:`camera_events`)."""
        return cls(track(log), camera_events(log), log.utc, log.path, log.format)


def _nan(n: int) -> np.ndarray:
    return np.full(n, np.nan)


def _make_track(time: np.ndarray, lat: np.ndarray, lon: np.ndarray, alt_msl: np.ndarray | None = None,
                alt_rel: np.ndarray | None = None, speed: np.ndarray | None = None) -> dict[str, np.ndarray]:
    n = len(time)
    cols = {
        "time": np.asarray(time, np.float64), "lat": np.asarray(lat, np.float64), "lon": np.asarray(lon, np.float64),
        "alt_msl": _nan(n) if alt_msl is None else np.asarray(alt_msl, np.float64),
        "alt_rel": _nan(n) if alt_rel is None else np.asarray(alt_rel, np.float64),
        "ground_speed": _nan(n) if speed is None else np.asarray(speed, np.float64),
    }
    order = np.argsort(cols["time"], kind="stable")
    if np.any(order != np.arange(n)):
        cols = {k: v[order] for k, v in cols.items()}
    return cols


def _attach_attitude(cols: dict[str, np.ndarray], t: np.ndarray | None, roll: np.ndarray | None,
                     pitch: np.ndarray | None, yaw: np.ndarray | None, t_dst: np.ndarray | None = None) -> None:
    n = len(cols["time"])
    if t is None or roll is None or len(t) == 0:
        cols["roll"], cols["pitch"], cols["yaw"] = _nan(n), _nan(n), _nan(n)
        return
    at = cols["time"] if t_dst is None else t_dst
    cols["roll"] = interp_angle_deg(t, roll, at)
    cols["pitch"] = interp(t, pitch, at)
    cols["yaw"] = interp_angle_deg(t, yaw, at, wrap360=True)


def vehicle_id(log: Log) -> tuple[int, int] | None:
    """(sysid, compid) of the vehicle in a tlog: the most frequent HEARTBEAT sender that is not a GCS."""
    hb = log.get("HEARTBEAT")
    if hb is not None and len(hb):
        ok = (hb["type"] != _MAV_TYPE_GCS) & (hb["autopilot"] != _MAV_AUTOPILOT_INVALID)
        if ok.any():
            key = hb["sysid"][ok].astype(np.int32) * 256 + hb["compid"][ok]
            vals, cnt = np.unique(key, return_counts=True)
            best = int(vals[np.argmax(cnt)])
            return best // 256, best % 256
    for name in ("GLOBAL_POSITION_INT", "GPS_RAW_INT", "ATTITUDE"):
        t = log.get(name)
        if t is not None and len(t):
            key = t["sysid"].astype(np.int32) * 256 + t["compid"]
            vals, cnt = np.unique(key, return_counts=True)
            best = int(vals[np.argmax(cnt)])
            return best // 256, best % 256
    return None


def vehicle_rows(log: Log, name: str) -> Table | None:
    """Rows of a tlog table sent by the vehicle (see :func:`vehicle_id`); None when absent or empty."""
    t = log.get(name)
    if t is None or not len(t):
        return None
    vid = vehicle_id(log)
    if vid is not None:
        sel = (t["sysid"] == vid[0]) & (t["compid"] == vid[1])
        if not sel.any():
            sel = t["sysid"] == vid[0]
        t = t.take(sel)
    return t if len(t) else None


def track(log: Log) -> Table:
    """The vehicle track of any log, columns :data:`TRACK_COLUMNS` (empty table when there is none)."""
    build = {"tlog": _tlog_track, "dataflash": _df_track, "ulog": _ulog_track, "mrk": _mrk_track}[log.format]
    cols = build(log)
    if cols is None:
        cols = {k: np.zeros(0) for k in TRACK_COLUMNS}
    return Table("track", {k: cols[k] for k in TRACK_COLUMNS}, _UNITS)


def _boot_clock(a: Table, b: Table) -> tuple[np.ndarray, np.ndarray] | None:
    """Both tables' vehicle clocks (s) when usable: more precise than ground-station receive times."""
    if "time_boot_ms" not in a or "time_boot_ms" not in b:
        return None
    ta, tb = a["time_boot_ms"] / 1e3, b["time_boot_ms"] / 1e3
    if np.any(np.diff(ta) < 0) or np.any(np.diff(tb) < 0):  # a reboot: fall back to receive time
        return None
    return ta, tb


def _tlog_track(log: Log) -> dict[str, np.ndarray] | None:
    gpi = vehicle_rows(log, "GLOBAL_POSITION_INT")
    if gpi is not None:
        fix = (gpi["lat"] != 0) | (gpi["lon"] != 0)
        gpi = gpi.take(fix)
    if gpi is not None and len(gpi):
        pos = gpi
        cols = _make_track(gpi["time"], gpi["lat"] / 1e7, gpi["lon"] / 1e7, gpi["alt"] / 1e3,
                           gpi["relative_alt"] / 1e3, np.hypot(gpi["vx"], gpi["vy"]) / 100.0)
    else:
        raw = vehicle_rows(log, "GPS_RAW_INT")
        if raw is None:
            return None
        raw = raw.take((raw["fix_type"] >= 2) & ((raw["lat"] != 0) | (raw["lon"] != 0)))
        if not len(raw):
            return None
        pos = raw
        speed = np.where(raw["vel"] == 65535, np.nan, raw["vel"] / 100.0)
        cols = _make_track(raw["time"], raw["lat"] / 1e7, raw["lon"] / 1e7, raw["alt"] / 1e3, None, speed)
    att = vehicle_rows(log, "ATTITUDE")
    if att is None:
        _attach_attitude(cols, None, None, None, None)
        return cols
    clocks = _boot_clock(pos, att)
    order = np.argsort(pos["time"], kind="stable")
    t_src, t_dst = (clocks[1], clocks[0][order]) if clocks else (att["time"], None)
    _attach_attitude(cols, t_src, np.degrees(att["roll"]), np.degrees(att["pitch"]), np.degrees(att["yaw"]), t_dst)
    return cols


def usable(t: Table | None, *cols: str) -> bool:
    """A non-empty table with these numeric 1-D columns (a damaged DataFlash FMT can describe anything)."""
    return (t is not None and len(t) > 0
            and all(c in t and t[c].ndim == 1 and t[c].dtype.kind in "iuf" for c in cols))


def _first_instance(t: Table) -> Table:
    """Rows of instance 0 for DataFlash types logged per instance (column I or Instance)."""
    for col in ("I", "Instance"):
        if usable(t, col):
            return t.take(t[col] == t[col].min())
    return t


def _df_track(log: Log) -> dict[str, np.ndarray] | None:
    gps = log.get("GPS")
    if usable(gps, "Status", "Lat", "Lng", "Alt", "Spd"):
        gps = _first_instance(gps)
        gps = gps.take((gps["Status"] >= 3) & ((gps["Lat"] != 0) | (gps["Lng"] != 0)))
    else:
        gps = None
    pos = log.get("POS")
    if usable(pos, "Lat", "Lng", "Alt"):
        rel = pos["RelHomeAlt"] if usable(pos, "RelHomeAlt") else None
        speed = interp(gps["time"], gps["Spd"], pos["time"]) if gps is not None and len(gps) else None
        cols = _make_track(pos["time"], pos["Lat"], pos["Lng"], pos["Alt"], rel, speed)
    elif gps is not None and len(gps):
        rel = gps["RelAlt"] if usable(gps, "RelAlt") else None
        cols = _make_track(gps["time"], gps["Lat"], gps["Lng"], gps["Alt"], rel, gps["Spd"])
    else:
        return None
    att = log.get("ATT")
    if usable(att, "Roll", "Pitch", "Yaw"):
        _attach_attitude(cols, att["time"], att["Roll"], att["Pitch"], att["Yaw"])
    else:
        _attach_attitude(cols, None, None, None, None)
    return cols


def _ulog_gps(t: Table) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """lat, lon (deg), alt (m AMSL) and speed from a PX4 GPS topic, old (int 1e7, mm) or new (float) fields."""
    if "latitude_deg" in t:
        lat, lon = t["latitude_deg"], t["longitude_deg"]
        alt = t["altitude_msl_m"] if "altitude_msl_m" in t else _nan(len(t))
    else:
        lat, lon, alt = t["lat"] / 1e7, t["lon"] / 1e7, t["alt"] / 1e3
    speed = t.get("vel_m_s")
    return lat, lon, alt, speed


def _ulog_track(log: Log) -> dict[str, np.ndarray] | None:
    glob = log.get("vehicle_global_position")
    if glob is not None and len(glob):
        speed = np.hypot(glob["vel_n"], glob["vel_e"]) if "vel_n" in glob else None
        cols = _make_track(glob["time"], glob["lat"], glob["lon"], glob["alt"], None, speed)
    else:
        gps = log.get("vehicle_gps_position") or log.get("sensor_gps")
        if gps is None or not len(gps):
            return None
        if "fix_type" in gps:
            gps = gps.take(gps["fix_type"] >= 2)
        lat, lon, alt, speed = _ulog_gps(gps)
        cols = _make_track(gps["time"], lat, lon, alt, None, speed)
    local = log.get("vehicle_local_position")
    if local is not None and len(local) and "z" in local:
        cols["alt_rel"] = interp(local["time"], -local["z"], cols["time"])  # NED z, relative to the EKF origin
    att = log.get("vehicle_attitude")
    if att is not None and len(att) and "q" in att:
        roll, pitch, yaw = quat_to_euler_deg(att["q"])
        _attach_attitude(cols, att["time"], roll, pitch, yaw)
    else:
        _attach_attitude(cols, None, None, None, None)
    return cols


def _mrk_track(log: Log) -> dict[str, np.ndarray] | None:
    m = log["mrk"]
    cols = _make_track(m["time"], m["lat"], m["lon"])
    _attach_attitude(cols, None, None, None, None)
    return cols


# --- camera events ---------------------------------------------------------------------------------------


def camera_events(log: Log) -> Table:
    """Camera trigger/capture events of any log, columns :data:`EVENT_COLUMNS` (plus MRK accuracy columns)."""
    build = {"tlog": _tlog_events, "dataflash": _df_events, "ulog": _ulog_events, "mrk": _mrk_events}[log.format]
    cols = build(log)
    if cols is None:
        cols = {k: np.zeros(0) for k in EVENT_COLUMNS}
        cols["index"] = np.zeros(0, np.int64)
        cols["source"] = np.zeros(0, "U1")
        cols["interpolated"] = np.zeros(0, bool)
        return Table("camera_events", cols, _UNITS)
    n = len(cols["time"])
    for k in ("lat", "lon", "alt_msl", "alt_rel", "roll", "pitch", "yaw"):
        cols.setdefault(k, _nan(n))
    missing = np.isnan(cols["lat"]) | np.isnan(cols["lon"])
    cols["interpolated"] = missing.copy()
    if missing.any():
        _fill_from_track(cols, track(log), missing)
    ordered = {k: cols[k] for k in EVENT_COLUMNS}
    ordered.update({k: v for k, v in cols.items() if k not in ordered})
    return Table("camera_events", ordered, _UNITS)


def _fill_from_track(cols: dict[str, np.ndarray], trk: Table, rows: np.ndarray) -> None:
    if not len(trk):
        return
    t = cols["time"][rows]
    for k in ("lat", "lon", "alt_msl", "alt_rel", "pitch"):
        cols[k][rows] = interp(trk["time"], trk[k], t)
    cols["roll"][rows] = interp_angle_deg(trk["time"], trk["roll"], t)
    cols["yaw"][rows] = interp_angle_deg(trk["time"], trk["yaw"], t, wrap360=True)


def _dedupe(t: Table, keys: tuple[str, ...]) -> Table:
    """Drop repeated events (a message received on two links is logged twice), keeping file order."""
    rec = np.rec.fromarrays([t[k] for k in keys])
    _, first = np.unique(rec, return_index=True)
    return t.take(np.sort(first))


def _tlog_events(log: Log) -> dict[str, np.ndarray] | None:
    fb = vehicle_rows(log, "CAMERA_FEEDBACK")
    if fb is not None:
        fb = _dedupe(fb, ("img_idx", "time_usec"))
        # time_usec is the vehicle's UTC (GPS) time when it has one, else boot time: use the receive time then.
        time = np.where(fb["time_usec"] > 10**15, fb["time_usec"] / 1e6, fb["time"])
        return {"index": fb["img_idx"].astype(np.int64), "time": time, "lat": fb["lat"] / 1e7,
                "lon": fb["lng"] / 1e7, "alt_msl": fb["alt_msl"].astype(np.float64),
                "alt_rel": fb["alt_rel"].astype(np.float64), "roll": fb["roll"].astype(np.float64),
                "pitch": fb["pitch"].astype(np.float64), "yaw": np.mod(fb["yaw"].astype(np.float64), 360.0),
                "source": np.full(len(fb), "CAMERA_FEEDBACK")}
    cap = log.get("CAMERA_IMAGE_CAPTURED")
    if cap is not None and len(cap):
        cap = _dedupe(cap, ("image_index", "time_utc"))
        roll, pitch, yaw = quat_to_euler_deg(cap["q"])
        time = np.where(cap["time_utc"] > 10**15, cap["time_utc"] / 1e6, cap["time"])
        return {"index": cap["image_index"].astype(np.int64), "time": time, "lat": cap["lat"] / 1e7,
                "lon": cap["lon"] / 1e7, "alt_msl": cap["alt"] / 1e3, "alt_rel": cap["relative_alt"] / 1e3,
                "roll": roll, "pitch": pitch, "yaw": yaw, "source": np.full(len(cap), "CAMERA_IMAGE_CAPTURED")}
    trig = vehicle_rows(log, "CAMERA_TRIGGER")
    if trig is not None:
        trig = _dedupe(trig, ("seq", "time_usec"))
        time = np.where(trig["time_usec"] > 10**15, trig["time_usec"] / 1e6, trig["time"])
        return {"index": trig["seq"].astype(np.int64), "time": time, "source": np.full(len(trig), "CAMERA_TRIGGER")}
    return None


def _column(t: Table, *names: str) -> np.ndarray | None:
    """The first usable column among ``names`` (layouts renamed Roll -> R between firmware versions)."""
    return next((t[c] for c in names if usable(t, c)), None)


def _df_events(log: Log) -> dict[str, np.ndarray] | None:
    for name in ("CAM", "TRIG"):
        t = log.get(name)
        if not usable(t, "Lat", "Lng"):
            continue
        n = len(t)
        time = t["time"].copy()
        if log.utc and usable(t, "GPSWeek", "GPSTime"):
            ok = t["GPSWeek"] > 0  # the camera's own GPS time stamp is more precise than the record time
            time[ok] = gps_to_unix(t["GPSWeek"][ok], t["GPSTime"][ok] / 1000.0)
        index = t["Img"].astype(np.int64) if usable(t, "Img") else np.arange(1, n + 1)
        roll, pitch, yaw = _column(t, "R", "Roll"), _column(t, "P", "Pitch"), _column(t, "Y", "Yaw")
        return {"index": index, "time": time, "lat": t["Lat"].astype(np.float64), "lon": t["Lng"].astype(np.float64),
                "alt_msl": t["Alt"].astype(np.float64) if usable(t, "Alt") else _nan(n),
                "alt_rel": t["RelAlt"].astype(np.float64) if usable(t, "RelAlt") else _nan(n),
                "roll": _nan(n) if roll is None else roll.astype(np.float64),
                "pitch": _nan(n) if pitch is None else pitch.astype(np.float64),
                "yaw": _nan(n) if yaw is None else np.mod(yaw.astype(np.float64), 360.0),
                "source": np.full(n, name)}
    return None


def _ulog_events(log: Log) -> dict[str, np.ndarray] | None:
    cap = log.get("camera_capture")
    if cap is not None and len(cap):
        n = len(cap)
        time = cap["time"].copy()
        if "timestamp_utc" in cap:
            ok = cap["timestamp_utc"] > 10**15
            time[ok] = cap["timestamp_utc"][ok] / 1e6
        out = {"index": cap["seq"].astype(np.int64), "time": time, "lat": cap["lat"].astype(np.float64),
               "lon": cap["lon"].astype(np.float64), "alt_msl": cap["alt"].astype(np.float64),
               "alt_rel": cap["ground_distance"].astype(np.float64) if "ground_distance" in cap else _nan(n),
               "source": np.full(n, "camera_capture")}
        if "q" in cap:
            out["roll"], out["pitch"], out["yaw"] = quat_to_euler_deg(cap["q"])
        return out
    trig = log.get("camera_trigger")
    if trig is not None and len(trig):
        time = trig["time"].copy()
        if "timestamp_utc" in trig:
            ok = trig["timestamp_utc"] > 10**15
            time[ok] = trig["timestamp_utc"][ok] / 1e6
        return {"index": trig["seq"].astype(np.int64), "time": time, "source": np.full(len(trig), "camera_trigger")}
    return None


def _mrk_events(log: Log) -> dict[str, np.ndarray] | None:
    m = log["mrk"]
    n = len(m)
    out = {"index": m["index"], "time": m["time"], "lat": m["lat"], "lon": m["lon"], "alt_msl": _nan(n),
           "alt_rel": _nan(n), "source": np.full(n, "mrk")}
    for k in ("alt_ellipsoid", "std_n", "std_e", "std_v", "rtk_flag"):
        out[k] = m[k]
    return out
