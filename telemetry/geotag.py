"""Geotagging: give every photo of a flight the position and orientation the log says it was taken from.

Photos carry a capture time from the camera's own clock (``DateTimeOriginal``, often hours off: a
time zone, plus seconds of drift; sometimes without sub-seconds). The log carries the vehicle's track
and, usually, one event per shutter (CAMERA_FEEDBACK, CAM, TRIG, ``.mrk``). :func:`geotag` links the
two and returns a :class:`GeotagResult`; :func:`write_geotags` writes tagged copies and the positions
files. Nothing is written before everything has been worked out.

How photos are matched, and why:

* **With events** (:func:`match_events`). The camera clock offset is the value that makes the most
  photo times coincide with event times: every (event - photo) time difference is a candidate, and
  the densest window of width ``2 * tolerance`` over the sorted differences wins (vectorised; a
  histogram of differences, not a search). The tolerance comes from the event spacing (0.4 of the
  median interval, 0.05-1 s) so that neighbouring shots cannot be confused, widened to 0.6 s when
  the photo times have no sub-seconds. Photos then take their nearest event within the tolerance,
  one-to-one (an event claimed twice goes to the closer photo) and in order (a pair that would run
  backwards is dropped); the offset is refined to the median residual and, over long flights, a
  linear clock drift is fitted. Photos without an event and events without a photo are reported one
  by one with their times, so a missed shot or a stray photo never shifts the rest. Photos without
  EXIF times can only be matched by order: done (with a warning) when the counts are equal, refused
  otherwise.
* **Without events** (or ``ignore_events``), unless ``offset`` is given, the offset is searched over
  the range that puts every photo inside the airborne part of the track, on a coarse grid and then a
  fine one (:func:`search_offset`). When most photos carry their own EXIF GPS the cost is the median
  distance between photo GPS and the track (``method="photo-gps"``). Otherwise the track's shape is
  used (``"track-shape"``): survey photos are triggered every so many metres, so the distance flown
  between consecutive photos is the same along a line; the cost is the mean relative change of that
  spacing from one pair to the next (capped at 1, and 1 for photos taken standing still, so a hover
  cannot look perfect). A wrong offset moves photos into the accelerations at the ends of lines and
  into the turns, where the spacing no longer holds. The confidence is ``1 - best / second best``
  cost, the second best being the best minimum at least ``max(1 s, photo interval)`` away.
* Position is interpolated linearly and attitude angle-aware from the track at each capture time;
  with events, the event's own pose (stamped by the vehicle at the shutter) is used when it has one.

Orientation: the log gives the vehicle attitude; the camera needs the gimbal. The default is a
stabilised nadir gimbal following the vehicle heading (``Gimbal(pitch=-90)``); ``gimbal_pitch``
changes the tilt and ``fixed_mount`` makes the camera follow the full vehicle attitude (a hard-mounted
camera). Angles are written as ODM/Pix4D ``Camera:Yaw/Pitch/Roll`` and DJI gimbal/flight angles
(:func:`sensors.photo.retag_jpeg`).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from sensors.photo import PhotoMeta, read_photo_meta, retag_jpeg
from sensors.positions import PhotoPosition, write_positions_csv
from sensors.projection import Attitude, Gimbal, camera_rotation, dji_gimbal_angles, odm_angles
from skyscan.atomic import atomic_write_text
from skyscan.errors import InputError

from .logs.flight import Flight
from .logs.geo import interp, interp_angle_deg

__all__ = [
    "GeotagOptions",
    "GeotagResult",
    "MissedEvent",
    "OffsetSearch",
    "UnmatchedPhoto",
    "find_photos",
    "geotag",
    "match_events",
    "search_offset",
    "write_geotags",
]

PHOTO_SUFFIXES = (".jpg", ".jpeg")
POSITIONS_CSV = "positions.csv"
POSITIONS_GEOJSON = "positions.geojson"
_MAX_DRIFT = 1e-3  # 1000 ppm: anything larger is not a camera clock
_M_PER_DEG = 111_320.0


@dataclass(frozen=True)
class GeotagOptions:
    """How to geotag: see the module docstring.

    ``offset`` (seconds, log time - camera time) skips the offset search; ``tolerance`` (seconds)
    overrides the event-matching tolerance; ``gimbal_pitch`` is the camera tilt (DJI convention,
    -90 = nadir); ``fixed_mount`` turns the stabilised gimbal into a hard mount.
    """

    offset: float | None = None
    ignore_events: bool = False
    tolerance: float | None = None
    gimbal_pitch: float = -90.0
    fixed_mount: bool = False

    @property
    def gimbal(self) -> Gimbal:
        if not -180.0 <= self.gimbal_pitch <= 180.0:
            raise InputError(f"gimbal pitch {self.gimbal_pitch} is not an angle in degrees (-90 = nadir)")
        return Gimbal(pitch=self.gimbal_pitch, stabilised=not self.fixed_mount)


@dataclass(frozen=True)
class UnmatchedPhoto:
    """A photo that was not tagged, and why (in words fit for a report)."""

    file: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: {self.reason}"


@dataclass(frozen=True)
class MissedEvent:
    """A trigger event that no photo was matched to."""

    index: int
    time: float
    reason: str

    def __str__(self) -> str:
        return f"event #{self.index} at {_hms(self.time)}: {self.reason}"


@dataclass
class GeotagResult:
    """What :func:`geotag` worked out; :func:`write_geotags` writes it.

    ``positions`` (one per tagged photo, in capture order) and ``metas`` (the metadata to write into
    each, same order) belong to ``sources`` (the photo files). ``offset_s`` is log time minus camera
    time at the first photo, ``drift_ppm`` the camera clock drift fitted over the flight, ``method``
    one of ``events``, ``order``, ``photo-gps``, ``track-shape``, ``given-offset``. ``confidence``
    is in [0, 1]: with events ``1 - 0.5 ** margin``, the margin being how many more photo/event
    pairs coincide at the chosen offset than at the best other one (evenly spaced shots make a
    shift by one shot nearly as good, so the margin, not the ratio, is the evidence); without,
    ``1 - best / second best`` cost (module docstring). ``residual`` (events) is the median |photo - event| time after
    matching, or (track methods) the cost at the optimum.
    """

    positions: list[PhotoPosition]
    metas: list[PhotoMeta]
    sources: list[Path]
    unmatched_photos: list[UnmatchedPhoto]
    unmatched_events: list[MissedEvent]
    offset_s: float | None
    drift_ppm: float
    confidence: float
    method: str
    tolerance_s: float | None = None
    residual: float | None = None
    n_photos: int = 0
    n_events: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def all_tagged(self) -> bool:
        return not self.unmatched_photos and len(self.positions) == self.n_photos


@dataclass(frozen=True)
class OffsetSearch:
    """The result of :func:`search_offset`: the offset, its cost and how clearly it beats the rest."""

    offset: float
    cost: float
    second_cost: float
    confidence: float
    method: str


# -------------------------------------------------------------------------------------------------
# Inputs
# -------------------------------------------------------------------------------------------------
def find_photos(folder) -> list[Path]:
    """The JPEG photos directly in ``folder`` (sorted by name); InputError when there are none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"photo folder not found: {folder}")
    photos = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in PHOTO_SUFFIXES
                    and not p.name.startswith("."))  # fmt: skip
    if not photos:
        raise InputError(f"{folder}: no JPEG photos (*.jpg, *.jpeg) to geotag")
    return photos


def _unix(t: datetime | None) -> float:
    """Seconds since the epoch; a naive EXIF time is read as UTC (the clock offset absorbs the zone)."""
    if t is None:
        return math.nan
    return (t if t.tzinfo else t.replace(tzinfo=UTC)).timestamp()


def _hms(t: float) -> str:
    if not math.isfinite(t):
        return "?"
    if t > 1e8:  # a UTC time; smaller values are seconds since boot
        return datetime.fromtimestamp(t, tz=UTC).strftime("%H:%M:%S.%f")[:10]
    return f"{t:.1f} s after boot"


# -------------------------------------------------------------------------------------------------
# Matching photos to events
# -------------------------------------------------------------------------------------------------
def _default_tolerance(event_times: np.ndarray, coarse: bool) -> float:
    steps = np.diff(event_times)
    steps = steps[steps > 1e-3]
    tol = float(np.clip(0.4 * np.median(steps), 0.05, 1.0)) if steps.size else 1.0
    return max(tol, 0.6) if coarse else tol  # whole-second EXIF times are up to 1 s early


def _densest_offset(pt: np.ndarray, et: np.ndarray, tol: float) -> tuple[float, int, int]:
    """(offset, pairs within it, pairs within the best window at least 2 tol away) over all differences."""
    stride = max(1, math.ceil(len(pt) * len(et) / 4_000_000))  # bound the memory of the difference matrix
    diffs = np.sort((et[None, :] - pt[::stride, None]).ravel())
    ends = np.searchsorted(diffs, diffs + 2 * tol, side="right")
    counts = ends - np.arange(diffs.size)
    k = int(np.argmax(counts))
    offset = float(np.median(diffs[k : ends[k]]))
    centres = diffs + tol
    far = np.abs(centres - offset) > 2 * tol
    second = int(counts[far].max()) if far.any() else 0
    return offset, int(counts[k]) * stride, second * stride


def _assign(pt: np.ndarray, et: np.ndarray, offset: float, drift: float, tol: float) -> np.ndarray:
    """Index of the matched event for each photo (-1: none), one-to-one and in order."""
    t = pt + offset + drift * (pt - pt[0])
    j = np.clip(np.searchsorted(et, t), 1, len(et) - 1) if len(et) > 1 else np.zeros(len(t), np.int64)
    if len(et) > 1:
        j = np.where(np.abs(et[j - 1] - t) <= np.abs(et[j] - t), j - 1, j)
    r = np.abs(et[j] - t)
    match = np.where(r <= tol, j, -1)
    # One photo per event: the closest keeps it.
    order = np.lexsort((r, match))
    m_sorted = match[order]
    dup = np.zeros(len(order), bool)
    dup[1:] = (m_sorted[1:] == m_sorted[:-1]) & (m_sorted[1:] >= 0)
    match[order[dup]] = -1
    # In order: a photo cannot take an event earlier than a previous photo's (runs once per photo).
    last = -1
    for i in np.flatnonzero(match >= 0):
        if match[i] <= last:
            match[i] = -1
        else:
            last = match[i]
    return match


def match_events(photo_times: np.ndarray, event_times: np.ndarray, tolerance: float | None = None,
                 offset: float | None = None, coarse: bool = False) -> dict:
    """Match sorted camera-clock photo times to sorted log event times (see the module docstring).

    Returns a dict: ``match`` (event index per photo, -1 none), ``offset``, ``drift`` (s/s),
    ``tolerance``, ``confidence`` and ``residual`` (median |photo - event| after the fit, s).
    """
    pt = np.asarray(photo_times, np.float64)
    et = np.asarray(event_times, np.float64)
    tol = float(tolerance) if tolerance else _default_tolerance(et, coarse)
    if offset is None:
        offset, best, second = _densest_offset(pt, et, tol)
        confidence = 1.0 - 0.5 ** (best - second) if best else 0.0  # each extra coincidence halves the doubt
    else:
        confidence = 1.0
    drift = 0.0
    match = _assign(pt, et, offset, drift, tol)
    for _ in range(2):  # refine the clock model on the matched pairs, then match again
        ok = match >= 0
        if not ok.any():
            break
        resid = et[match[ok]] - pt[ok]
        x = pt[ok] - pt[0]
        if ok.sum() >= 10 and x.max() - x.min() > 120.0:
            slope, icpt = np.polyfit(x, resid, 1)
            if abs(slope) < _MAX_DRIFT:
                drift, offset = float(slope), float(icpt)
            else:
                offset = float(np.median(resid))
        else:
            offset = float(np.median(resid))
        match = _assign(pt, et, offset, drift, tol)
    ok = match >= 0
    t = pt + offset + drift * (pt - pt[0])
    residual = float(np.median(np.abs(et[match[ok]] - t[ok]))) if ok.any() else math.nan
    return {"match": match, "offset": offset, "drift": drift, "tolerance": tol, "confidence": confidence,
            "residual": residual}


# -------------------------------------------------------------------------------------------------
# Offset search against the track
# -------------------------------------------------------------------------------------------------
def _local_xy(lat: np.ndarray, lon: np.ndarray, lat0: float, lon0: float) -> tuple[np.ndarray, np.ndarray]:
    """Equirectangular metres around (lat0, lon0): exact to < 0.1 % over a survey's few kilometres."""
    return (lon - lon0) * _M_PER_DEG * math.cos(math.radians(lat0)), (lat - lat0) * _M_PER_DEG


def _airborne(track) -> np.ndarray:
    """Track samples in flight: above 2 m and a fifth of the highest height above home (or the lowest MSL)."""
    h = track["alt_rel"]
    if not np.isfinite(h).any():
        h = track["alt_msl"] - np.nanmin(track["alt_msl"]) if np.isfinite(track["alt_msl"]).any() else None
    if h is None:
        return np.ones(len(track), bool)
    top = np.nanmax(h)
    return np.nan_to_num(h, nan=-np.inf) > max(2.0, 0.2 * top)


def search_offset(photo_times: np.ndarray, track, photo_latlon: np.ndarray | None = None) -> OffsetSearch:
    """The camera clock offset (log time - camera time) that best fits the photos to the track.

    ``photo_times`` are sorted camera-clock seconds; ``photo_latlon`` (n, 2) the photos' own EXIF
    positions (NaN rows allowed) or None. Searched over every offset that puts all photos inside the
    airborne track, coarse then fine (5 ms); see the module docstring for the costs.
    """
    pt = np.asarray(photo_times, np.float64)
    tt = track["time"]
    fly = _airborne(track)
    if len(pt) < 3 or fly.sum() < 2:
        raise InputError("the clock offset search needs at least 3 photos with EXIF times and a track in flight; "
                         "pass --offset SECONDS")  # fmt: skip
    ta, tb = tt[fly][0], tt[fly][-1]
    lo, hi = ta - pt[0], tb - pt[-1]
    if hi < lo:
        raise InputError(f"the photos span {pt[-1] - pt[0]:.0f} s but the log has only {tb - ta:.0f} s of flight: "
                         "they cannot all come from this flight (wrong log, or photos of several flights?)")
    lat0, lon0 = float(np.nanmedian(track["lat"])), float(np.nanmedian(track["lon"]))
    x, y = _local_xy(track["lat"], track["lon"], lat0, lon0)
    use_gps = photo_latlon is not None and np.isfinite(photo_latlon).all(axis=1).sum() >= max(3, len(pt) // 2)
    if use_gps:
        ok = np.isfinite(photo_latlon).all(axis=1)
        px, py = _local_xy(photo_latlon[ok, 0], photo_latlon[ok, 1], lat0, lon0)
        pts = pt[ok]

        def cost(d: np.ndarray) -> np.ndarray:
            t = pts[None, :] + d[:, None]
            return np.median(np.hypot(np.interp(t, tt, x) - px, np.interp(t, tt, y) - py), axis=1)
    else:
        s = np.concatenate([[0.0], np.cumsum(np.hypot(np.diff(x), np.diff(y)))])

        def cost(d: np.ndarray) -> np.ndarray:
            ds = np.diff(np.interp(pt[None, :] + d[:, None], tt, s), axis=1)
            big = np.maximum(ds[:, 1:], ds[:, :-1])
            with np.errstate(divide="ignore", invalid="ignore"):
                r = np.abs(ds[:, 1:] - ds[:, :-1]) / big
            r = np.where(big < 0.5, 1.0, np.minimum(r, 1.0))  # standing still is never a survey shot
            return r.mean(axis=1)

    def evaluate(d: np.ndarray) -> np.ndarray:
        chunk = max(1, 2_000_000 // len(pt))
        return np.concatenate([cost(d[i : i + chunk]) for i in range(0, len(d), chunk)])

    spacing = float(np.median(np.diff(pt))) if len(pt) > 1 else 1.0
    step = float(np.clip(spacing / 8.0, 0.02, 0.5))
    step = max(step, (hi - lo) / 200_000)
    grid = np.arange(lo, hi + step, step)
    c = evaluate(grid)
    k = int(np.argmin(c))
    fine = np.arange(grid[k] - 2 * step, grid[k] + 2 * step + 0.005, 0.005)
    fine = fine[(fine >= lo) & (fine <= hi)] if ((fine >= lo) & (fine <= hi)).any() else grid[k : k + 1]
    cf = evaluate(fine)
    j = int(np.argmin(cf))
    best, best_cost = float(fine[j]), float(cf[j])
    far = np.abs(grid - best) > max(1.0, spacing)
    second = float(c[far].min()) if far.any() else math.inf
    if not math.isfinite(second):  # the range leaves no other candidate
        conf = 1.0
    else:
        conf = float(np.clip(1.0 - best_cost / second, 0.0, 1.0)) if second > 0 else 0.0
    return OffsetSearch(best, best_cost, second, conf, "photo-gps" if use_gps else "track-shape")


# -------------------------------------------------------------------------------------------------
# Poses
# -------------------------------------------------------------------------------------------------
def _track_at(track, t: np.ndarray) -> dict[str, np.ndarray]:
    """Position (linear) and attitude (angle-aware) interpolated from the track; NaN outside it."""
    tt = track["time"]
    gap = 2.0 * float(np.median(np.diff(tt))) if len(tt) > 1 else 1.0
    out = {k: interp(tt, track[k], t, max_gap=gap) for k in ("lat", "lon", "alt_msl", "alt_rel", "pitch")}
    out["roll"] = interp_angle_deg(tt, track["roll"], t, max_gap=gap)
    out["yaw"] = interp_angle_deg(tt, track["yaw"], t, max_gap=gap, wrap360=True)
    inside = (t >= tt[0]) & (t <= tt[-1]) if len(tt) else np.zeros(len(t), bool)
    for k in out:
        out[k] = np.where(inside, out[k], np.nan)
    return out


def _orientation(roll: float, pitch: float, yaw: float, gimbal: Gimbal) -> dict[str, float | None]:
    """Camera angles for the metadata (None when the attitude the gimbal needs is unknown)."""
    needed = (yaw,) if gimbal.stabilised else (roll, pitch, yaw)
    if not all(math.isfinite(v) for v in needed):
        return {}
    att = Attitude(roll=roll if math.isfinite(roll) else 0.0, pitch=pitch if math.isfinite(pitch) else 0.0, yaw=yaw)
    rot = camera_rotation(att, gimbal)
    cy, cp, cr = odm_angles(rot)
    gy, gp, gr = dji_gimbal_angles(rot)
    fy = ((yaw + 180.0) % 360.0) - 180.0
    out = {"camera_yaw": cy, "camera_pitch": cp, "camera_roll": cr, "gimbal_yaw": gy, "gimbal_pitch": gp,
           "gimbal_roll": gr, "flight_yaw": fy}
    if math.isfinite(pitch) and math.isfinite(roll):
        out.update(flight_pitch=pitch, flight_roll=roll)
    return out


def _opt(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None


# -------------------------------------------------------------------------------------------------
# The whole job
# -------------------------------------------------------------------------------------------------
def geotag(photos: Sequence[Path | PhotoMeta], flight: Flight, options: GeotagOptions = GeotagOptions()
           ) -> GeotagResult:
    """Work out the pose of every photo from ``flight`` (nothing is written; see :func:`write_geotags`).

    ``photos`` are paths or already-read metadata. Raises :class:`InputError` for input that cannot
    give any answer (no photos, no track and no events, counts that cannot be reconciled without
    photo times); photos that cannot be placed are listed in the result with the reason.
    """
    gimbal = options.gimbal
    metas: list[PhotoMeta] = []
    unmatched: list[UnmatchedPhoto] = []
    for p in photos:
        if isinstance(p, PhotoMeta):
            metas.append(p)
            continue
        try:
            metas.append(read_photo_meta(p))
        except InputError as exc:
            unmatched.append(UnmatchedPhoto(Path(p).name, f"not a readable photo ({exc})"))
    n_photos = len(metas) + len(unmatched)
    if not n_photos:
        raise InputError("no photos to geotag")
    track, events = flight.track, flight.events
    use_events = len(events) > 0 and not options.ignore_events
    if not use_events and len(track) < 2:
        what = "no camera events and no track" if not len(events) else "no track (and --ignore-events)"
        raise InputError(f"{flight.source or 'log'}: {what}: nothing to geotag from")
    times = np.array([_unix(m.time) for m in metas])
    names = [m.path.name if m.path else f"photo {i + 1}" for i, m in enumerate(metas)]
    order = np.lexsort((np.array(names), np.nan_to_num(times, nan=np.inf)))
    metas = [metas[i] for i in order]
    names = [names[i] for i in order]
    times = times[order]
    has_time = np.isfinite(times)
    coarse = bool(has_time.any() and np.all(np.round(times[has_time] % 1.0, 6) == 0.0))
    warnings: list[str] = []
    if coarse:
        warnings.append("photo times have no sub-seconds: matching and interpolation are only as good as 1 s")

    capture = np.full(len(metas), np.nan)  # capture time on the log clock
    event_of = np.full(len(metas), -1)
    missed: list[MissedEvent] = []
    result_offset: float | None = None
    drift = 0.0
    confidence = 1.0
    tol: float | None = None
    residual: float | None = None
    if use_events:
        eorder = np.argsort(events["time"], kind="stable")
        ev = events.take(eorder)
        et = ev["time"]
        if not has_time.any():
            if len(metas) != len(ev):
                raise InputError(f"{len(metas)} photos and {len(ev)} camera events, and the photos have no EXIF "
                                 "capture times: cannot tell which photo belongs to which event. Remove the extra "
                                 "photos (or pass --ignore-events with --offset) and try again")
            warnings.append("photos have no EXIF capture times: matched to events by order (name order)")
            method = "order"
            event_of[:] = np.arange(len(ev))
            confidence = 0.0
        else:
            method = "events" if options.offset is None else "given-offset"
            idx = np.flatnonzero(has_time)
            m = match_events(times[idx], et, options.tolerance, options.offset, coarse)
            event_of[idx] = m["match"]
            result_offset, drift, confidence = m["offset"], m["drift"], m["confidence"]
            tol, residual = m["tolerance"], m["residual"]
            t_log = times + result_offset + drift * (times - times[idx[0]])
            for i in np.flatnonzero(event_of < 0):
                if not has_time[i]:
                    unmatched.append(UnmatchedPhoto(names[i], "no EXIF capture time (DateTimeOriginal)"))
                    continue
                near = int(np.argmin(np.abs(et - t_log[i])))
                unmatched.append(UnmatchedPhoto(names[i], (
                    f"no trigger event within {tol:.2g} s of {_hms(t_log[i])} (camera clock {result_offset:+.2f} s); "
                    f"nearest is event #{int(ev['index'][near])}, {et[near] - t_log[i]:+.2f} s away")))
            if len(metas) != len(ev):
                warnings.append(f"{len(metas)} photos but {len(ev)} camera events: "
                                f"{(event_of < 0).sum()} photo(s) and {len(ev) - (event_of >= 0).sum()} event(s) "
                                "without a partner, listed one by one")  # fmt: skip
        taken = np.zeros(len(ev), bool)
        taken[event_of[event_of >= 0]] = True
        for j in np.flatnonzero(~taken):
            missed.append(MissedEvent(int(ev["index"][j]), float(et[j]), "no photo (missed shot, or photo removed?)"))
        sel = event_of >= 0
        capture[sel] = et[event_of[sel]]
        # The event's own pose where it has one (stamped at the shutter), else the track's.
        pose = {k: np.full(len(metas), np.nan) for k in ("lat", "lon", "alt_msl", "alt_rel", "roll", "pitch", "yaw")}
        for k in pose:
            pose[k][sel] = ev[k][event_of[sel]]
        interpolated = np.zeros(len(metas), bool)
        interpolated[sel] = ev["interpolated"][event_of[sel]]
        source = np.full(len(metas), "", dtype=object)
        source[sel] = ev["source"][event_of[sel]]
        index = np.full(len(metas), -1)
        index[sel] = ev["index"][event_of[sel]]
        if len(track) >= 2:
            at = _track_at(track, capture)
            for k in pose:
                fill = sel & ~np.isfinite(pose[k])
                pose[k][fill] = at[k][fill]
                if k in ("lat", "roll", "yaw"):
                    interpolated |= fill
    else:
        pt = times[has_time]
        for i in np.flatnonzero(~has_time):
            unmatched.append(UnmatchedPhoto(names[i], "no EXIF capture time (DateTimeOriginal): "
                                                      "cannot be placed on the track without events"))
        if not pt.size:
            raise InputError("no photo has an EXIF capture time and the log has no camera events: cannot geotag")
        if options.offset is not None:
            result_offset, method = float(options.offset), "given-offset"
        else:
            latlon = np.array([[m.lat if m.lat is not None else np.nan, m.lon if m.lon is not None else np.nan]
                               for m, h in zip(metas, has_time, strict=True) if h])  # fmt: skip
            found = search_offset(pt, track, latlon)
            result_offset, method, confidence, residual = found.offset, found.method, found.confidence, found.cost
            if confidence < 0.2:
                warnings.append(f"the clock offset is uncertain (confidence {confidence:.2f}): check it, or pass "
                                "--offset SECONDS")  # fmt: skip
        capture = times + result_offset
        pose = _track_at(track, capture)
        interpolated = np.ones(len(metas), bool)
        source = np.full(len(metas), "track+offset", dtype=object)
        index = np.full(len(metas), -1)
        sel = has_time.copy()
        for i in np.flatnonzero(sel & ~np.isfinite(pose["lat"])):
            sel[i] = False
            unmatched.append(UnmatchedPhoto(names[i], f"taken at {_hms(capture[i])} (camera clock "
                                                      f"{result_offset:+.2f} s), outside the log's track"))
    positions: list[PhotoPosition] = []
    out_metas: list[PhotoMeta] = []
    sources: list[Path] = []
    for i in np.flatnonzero(sel):
        if not (math.isfinite(pose["lat"][i]) and math.isfinite(pose["lon"][i])):
            unmatched.append(UnmatchedPhoto(names[i], f"event #{index[i]} has no position and the track does "
                                                      "not cover it"))
            continue
        t = float(capture[i])
        when = datetime.fromtimestamp(t, tz=UTC) if flight.utc and math.isfinite(t) else None
        ang = _orientation(pose["roll"][i], pose["pitch"][i], pose["yaw"][i], gimbal)
        pos = PhotoPosition(
            file=names[i], lat=float(pose["lat"][i]), lon=float(pose["lon"][i]), alt_msl=float(pose["alt_msl"][i]),
            alt_rel=float(pose["alt_rel"][i]), time=when, roll=float(pose["roll"][i]), pitch=float(pose["pitch"][i]),
            yaw=float(pose["yaw"][i]), camera_yaw=ang.get("camera_yaw", math.nan),
            camera_pitch=ang.get("camera_pitch", math.nan), camera_roll=ang.get("camera_roll", math.nan),
            source=str(source[i]), event_index=int(index[i]), interpolated=bool(interpolated[i]),
        )  # fmt: skip
        meta = replace(metas[i], lat=pos.lat, lon=pos.lon, alt=_opt(pos.alt_msl), rel_alt=_opt(pos.alt_rel),
                       gps_time=when, **ang)  # fmt: skip
        positions.append(pos)
        out_metas.append(meta)
        sources.append(metas[i].path)  # type: ignore[arg-type]
    if use_events and np.isfinite(track["alt_msl"]).sum() == 0 and positions and math.isnan(positions[0].alt_msl):
        warnings.append("the log gives no altitude above sea level (an .mrk has ellipsoidal heights only): "
                        "no GPS altitude written")  # fmt: skip
    return GeotagResult(positions, out_metas, sources, unmatched, missed, result_offset, drift * 1e6, confidence,
                        method, tol, residual, n_photos, len(events) if use_events else 0, warnings)


# -------------------------------------------------------------------------------------------------
# Writing
# -------------------------------------------------------------------------------------------------
def _json_num(v: float, digits: int) -> float | None:
    return round(float(v), digits) if v is not None and math.isfinite(v) else None


def positions_geojson(positions: Iterable[PhotoPosition]) -> str:
    """A GeoJSON FeatureCollection of the photo positions (Point [lon, lat, alt_msl] + the CSV's columns)."""
    feats = []
    for p in positions:
        coords = [round(p.lon, 9), round(p.lat, 9)]
        if math.isfinite(p.alt_msl):
            coords.append(round(p.alt_msl, 3))
        props = {"file": p.file, "time_utc": p.time.astimezone(UTC).isoformat(timespec="microseconds") if p.time
                 else None, "alt_rel": _json_num(p.alt_rel, 3)}  # fmt: skip
        for k in ("roll", "pitch", "yaw", "camera_yaw", "camera_pitch", "camera_roll"):
            props[k] = _json_num(getattr(p, k), 4)
        props.update(source=p.source, event_index=p.event_index, interpolated=p.interpolated)
        feats.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": coords}, "properties": props})
    return json.dumps({"type": "FeatureCollection", "features": feats}, indent=1) + "\n"


def write_geotags(result: GeotagResult, out_dir, *, in_place: bool = False) -> list[Path]:
    """Write the tagged photos and ``positions.csv`` / ``positions.geojson`` into ``out_dir``.

    Copies go to ``out_dir`` under their own names (the originals are not touched); with
    ``in_place`` the originals are replaced instead and ``out_dir`` only receives the positions
    files. ``out_dir`` may not be a photo folder unless ``in_place``. Photos are first written into
    a hidden staging folder and renamed into place only once all of them succeeded, so an error
    leaves no partial output. Returns the written paths.
    """
    out_dir = Path(out_dir)
    folders = {p.parent.resolve() for p in result.sources}
    if not in_place and out_dir.exists() and out_dir.resolve() in folders:
        raise InputError(f"{out_dir}: the output folder is the photo folder; choose another one with -o, "
                         "or pass --in-place to overwrite the photos")  # fmt: skip
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    staged: list[tuple[Path, Path]] = []
    stages: dict[Path, Path] = {}
    try:
        for src, meta in zip(result.sources, result.metas, strict=True):
            target_dir = src.parent if in_place else out_dir
            if target_dir not in stages:
                stages[target_dir] = Path(tempfile.mkdtemp(prefix=".geotag-", dir=target_dir))
            tmp = stages[target_dir] / src.name
            retag_jpeg(src, tmp, meta)
            staged.append((tmp, target_dir / src.name))
        for tmp, dst in staged:
            os.replace(tmp, dst)
            written.append(dst)
        written.append(write_positions_csv(out_dir / POSITIONS_CSV, result.positions))
        atomic_write_text(out_dir / POSITIONS_GEOJSON, positions_geojson(result.positions))
        written.append(out_dir / POSITIONS_GEOJSON)
    finally:
        for stage in stages.values():
            shutil.rmtree(stage, ignore_errors=True)
    return written
