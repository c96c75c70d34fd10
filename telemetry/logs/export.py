"""Export a log's track and camera events as GeoJSON, KML, GPX or CSV (written atomically).

* GeoJSON: one LineString feature for the track (``[lon, lat, alt_msl]``), one Point per event with its
  index, time, altitudes and attitude as properties;
* KML: a track LineString (absolute altitude when known) and a folder of event placemarks;
* GPX 1.1: a ``trk`` with timed ``trkpt``s and a ``wpt`` per event;
* CSV: one row per track point and per event, ``kind`` telling which.

Times are ISO 8601 UTC when the log has UTC time, else seconds since boot (GPX then omits ``time``).
"""

from __future__ import annotations

import csv
import io
import json
import os
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np

from skyscan.atomic import atomic_write_text
from skyscan.errors import InputError

from .flight import camera_events, track
from .tables import Log, Table

__all__ = ["ExportFormat", "export", "render"]


class ExportFormat(StrEnum):
    """Output formats of :func:`export`."""

    GEOJSON = "geojson"
    KML = "kml"
    GPX = "gpx"
    CSV = "csv"

    @classmethod
    def parse(cls, value: str | ExportFormat) -> ExportFormat:
        """The format named ``value`` (any case); InputError listing the valid ones otherwise."""
        try:
            return cls(value.lower() if isinstance(value, str) else value)
        except ValueError:
            valid = ", ".join(f.value for f in cls)
            raise InputError(f"unknown export format {value!r}; use one of: {valid}") from None


def export(log: Log, path: str | os.PathLike, format: str | ExportFormat | None = None) -> Path:
    """Write the track and camera events of ``log`` to ``path`` (format from the suffix when not given)."""
    path = Path(path)
    fmt = ExportFormat.parse(format if format is not None else path.suffix.lstrip(".") or "?")
    atomic_write_text(path, render(log, fmt))
    return path


def render(log: Log, format: str | ExportFormat) -> str:
    """The export as text (what :func:`export` writes)."""
    fmt = ExportFormat.parse(format)
    trk, ev = track(log), camera_events(log)
    return {ExportFormat.GEOJSON: _geojson, ExportFormat.KML: _kml, ExportFormat.GPX: _gpx,
            ExportFormat.CSV: _csv}[fmt](trk, ev, log.utc, str(log.path or "log"))


def _iso(t: float, utc: bool) -> str:
    if not np.isfinite(t):
        return ""
    if not utc:
        return f"{t:.3f}"
    try:
        return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    except (ValueError, OverflowError, OSError):  # out of datetime's range: only a damaged log does that
        return f"{t:.3f}"


def _num(v: float, digits: int) -> float | None:
    return round(float(v), digits) if np.isfinite(v) else None


def _valid(t: Table) -> np.ndarray:
    return np.isfinite(t["lat"]) & np.isfinite(t["lon"])


def _geojson(trk: Table, ev: Table, utc: bool, name: str) -> str:
    features = []
    ok = _valid(trk)
    if ok.sum() >= 2:
        alt = trk["alt_msl"][ok]
        coords = np.column_stack([np.round(trk["lon"][ok], 8), np.round(trk["lat"][ok], 8)])
        if np.isfinite(alt).all():
            coords = np.column_stack([coords, np.round(alt, 2)])
        features.append({"type": "Feature", "geometry": {"type": "LineString", "coordinates": coords.tolist()},
                         "properties": {"kind": "track", "name": name, "start": _iso(trk["time"][ok][0], utc),
                                        "end": _iso(trk["time"][ok][-1], utc), "points": int(ok.sum())}})
    for i in np.flatnonzero(_valid(ev)).tolist():
        alt = ev["alt_msl"][i]
        geom = [round(float(ev["lon"][i]), 8), round(float(ev["lat"][i]), 8)]
        if np.isfinite(alt):
            geom.append(round(float(alt), 2))
        props = {"kind": "camera_event", "index": int(ev["index"][i]), "time": _iso(ev["time"][i], utc),
                 "source": str(ev["source"][i]), "interpolated": bool(ev["interpolated"][i])}
        props.update({k: _num(ev[k][i], 3) for k in ("alt_msl", "alt_rel", "roll", "pitch", "yaw")})
        features.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": geom}, "properties": props})
    return json.dumps({"type": "FeatureCollection", "features": features}, separators=(",", ":")) + "\n"


def _kml(trk: Table, ev: Table, utc: bool, name: str) -> str:
    out = ['<?xml version="1.0" encoding="UTF-8"?>', '<kml xmlns="http://www.opengis.net/kml/2.2">', "<Document>",
           f"<name>{escape(name)}</name>"]
    ok = _valid(trk)
    if ok.sum() >= 2:
        alt = trk["alt_msl"][ok]
        absolute = bool(np.isfinite(alt).all())
        z = alt if absolute else np.zeros(int(ok.sum()))
        coords = " ".join(f"{x:.8f},{y:.8f},{h:.2f}" for x, y, h in
                          zip(trk["lon"][ok].tolist(), trk["lat"][ok].tolist(), z.tolist(), strict=True))
        mode = "absolute" if absolute else "clampToGround"
        out += ["<Placemark><name>track</name><LineString>", f"<altitudeMode>{mode}</altitudeMode>",
                f"<coordinates>{coords}</coordinates>", "</LineString></Placemark>"]
    out.append("<Folder><name>camera events</name>")
    for i in np.flatnonzero(_valid(ev)).tolist():
        alt = float(ev["alt_msl"][i])
        mode, h = ("absolute", alt) if np.isfinite(alt) else ("clampToGround", 0.0)
        when = _iso(ev["time"][i], utc)
        stamp = f"<TimeStamp><when>{when}</when></TimeStamp>" if utc and when else ""
        out.append(f"<Placemark><name>{int(ev['index'][i])}</name>{stamp}<Point><altitudeMode>{mode}</altitudeMode>"
                   f"<coordinates>{ev['lon'][i]:.8f},{ev['lat'][i]:.8f},{h:.2f}</coordinates></Point></Placemark>")
    out += ["</Folder>", "</Document>", "</kml>"]
    return "\n".join(out) + "\n"


def _gpx(trk: Table, ev: Table, utc: bool, name: str) -> str:
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<gpx version="1.1" creator="skyscan" xmlns="http://www.topografix.com/GPX/1/1">']

    def point(tag: str, lat: float, lon: float, alt: float, t: float, extra: str = "") -> str:
        ele = f"<ele>{alt:.2f}</ele>" if np.isfinite(alt) else ""
        when = f"<time>{_iso(t, utc)}</time>" if utc and np.isfinite(t) else ""
        return f'<{tag} lat="{lat:.8f}" lon="{lon:.8f}">{ele}{when}{extra}</{tag}>'

    for i in np.flatnonzero(_valid(ev)).tolist():
        out.append(point("wpt", ev["lat"][i], ev["lon"][i], ev["alt_msl"][i], ev["time"][i],
                         f"<name>{int(ev['index'][i])}</name><type>camera</type>"))
    ok = _valid(trk)
    out.append(f"<trk><name>{escape(name)}</name><trkseg>")
    out += [point("trkpt", la, lo, al, t) for la, lo, al, t in
            zip(trk["lat"][ok].tolist(), trk["lon"][ok].tolist(), trk["alt_msl"][ok].tolist(),
                trk["time"][ok].tolist(), strict=True)]
    out += ["</trkseg></trk>", "</gpx>"]
    return "\n".join(out) + "\n"


def _csv(trk: Table, ev: Table, utc: bool, name: str) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    cols = ("lat", "lon", "alt_msl", "alt_rel", "ground_speed", "roll", "pitch", "yaw")
    w.writerow(("kind", "index", "time", "time_utc" if utc else "time_boot_s", *cols, "source"))

    def fmt(v: float) -> str:
        return "" if not np.isfinite(v) else f"{v:.8f}" if abs(v) < 1000 else f"{v:.3f}"

    for i in range(len(trk)):
        w.writerow(("track", "", f"{trk['time'][i]:.3f}", _iso(trk["time"][i], utc),
                    *(fmt(trk[c][i]) for c in cols), ""))
    for i in range(len(ev)):
        w.writerow(("camera_event", int(ev["index"][i]), f"{ev['time'][i]:.3f}", _iso(ev["time"][i], utc),
                    *(fmt(ev[c][i]) if c in ev else "" for c in cols), str(ev["source"][i])))
    return buf.getvalue()
