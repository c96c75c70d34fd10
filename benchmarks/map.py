"""Benchmark: the same photo sets through ``skyscan map``, a plain pycolmap pipeline and OpenCV's Stitcher.

Inputs (nothing is downloaded): photo sets rendered by :func:`sitl.photoset.render_survey` over the
procedural world (default camera ``mavic3e`` rendered at 4000 x 3000, i.e. 12 MP; 80 m above home,
75 % front / 65 % side overlap, lines north-south), 50 and 200 photos by default. The sets are cached
under ``~/.cache/skyscan/bench/map-<n>-<W>x<H>/`` (each holds ``truth.csv`` and ``photoset.json``
with the time it took to render); a later run reuses them. With ``--real PATH`` (default
``../shared/data/survey_photos/dji_mini2_nottingham_rdslauder`` next to the repository: 16 DJI Mini 2
photos; skipped with a note when absent, ``--real none`` to leave it out) a real set is run as well;
it has no truth.

Tools, each in its own process, one after the other on the same photos (``--tools`` picks them):

* **skyscan**: ``python -m skyscan map PHOTOS -o OUT --truth PHOTOS/truth.csv --workers W`` (no
  ``--truth`` on the real set), which writes ``OUT/map.tif`` and ``OUT/map.json``: photos registered
  (``sfm.registered`` of ``sfm.photos``), the per-photo offset measured on the map (``quality``, see
  :mod:`sensors.mosaic.consistency`) and the georeference error against the truth (``truth_rmse_m``,
  ``truth_rmse_gsd``). When the command does not exist in this checkout its cells say "skyscan map:
  not available"; a map.json without ``quality`` gives "n/a".
* **plain pycolmap** (``benchmarks/_colmap_plain.py``): COLMAP with its default settings, as a new
  user runs it: ``pycolmap.extract_features`` (CPU), ``match_exhaustive`` (all pairs),
  ``incremental_mapping``, the largest model; only the thread count is set to W. Its wall time and RSS
  are that run's (poses and points: COLMAP makes no map). Then, timed apart (shown in the detail
  line, not in the columns), the model is aligned to the photos' EXIF GPS
  (``pycolmap.align_reconstruction_to_locations``) and a map is rendered from its poses with
  skyscan's own renderer on a terrain model from its points, so the same per-photo offset and
  georeference error can be measured on it; on SITL sets also its camera-centre error against
  ``truth.csv``. A run the cap kills (exhaustive matching grows with the square of the photos)
  says "timeout after N s".
* **OpenCV Stitcher**: ``cv2.Stitcher_create(cv2.Stitcher_SCANS)`` on all the JPEGs (read into memory
  first, as the Stitcher needs them), panorama written as a JPEG (``benchmarks/_stitch.py``). It gets
  the same number of threads as skyscan gets workers (``cv2.setNumThreads(W)``). Photos registered:
  the Stitcher's final component. Its panorama has no georeference, so neither the offset figure nor
  the error against the truth exists for it ("n/a").

Measured for each run: wall time from process start to exit; peak RSS of the whole process tree (the
process and all its descendants, e.g. dask workers, sampled every 0.2 s with psutil and summed; pages
shared between processes count once per process, so this is an upper bound); photos per minute
(photos in / wall time); photos registered; the **offset** (median / max over the photos, in map
GSD, of how far each photo's content lands from where the map shows it: 3 GSD is a visible defect;
metres, doubled photos and the verdict in the detail line); the georeference RMSE against the SITL
truth; status. A run is killed at ``--cap-seconds`` ("timeout after N s") or when its tree's RSS
passes ``--mem-cap-gb`` ("out of memory"). As a backstop for the machine the Stitcher also runs under
RLIMIT_AS of 1.5 x that (address space runs ahead of RSS), so an allocation beyond it fails inside
OpenCV: also "out of memory", with the limit named and the peak RSS it had reached.

After the table: per set, each tool's wall time and peak RSS as a ratio of skyscan's; then the
targets from the issue, checked on what was measured: skyscan >= 3x faster than the Stitcher (or the
Stitcher fails); >= 30 photos/min on 2 cores; peak RSS for the largest SITL set within 10 % of the
smallest's. Smoke test (a few minutes): ``python -m benchmarks map --quick`` (one SITL set of 8
photos at 800 x 600, no real set) or e.g. ``--sizes 8 --photo-size 800x600 --tools skyscan,colmap``;
only the real set: ``--sizes 0``. ``python -m benchmarks map --help`` for options.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psutil  # installed with dask.distributed

from sensors.catalog import get_camera
from sitl.photoset import PARAMS_FILE, render_survey

ROOT = Path(__file__).resolve().parents[1]
SIZES = (50, 200)
PHOTO_SIZE = (4000, 3000)
QUICK_SIZES, QUICK_PHOTO_SIZE = (8,), (800, 600)
CAMERA = "mavic3e"
REAL = ROOT.parent / "shared" / "data" / "survey_photos" / "dji_mini2_nottingham_rdslauder"
CAP_S = 20 * 60.0
TARGET_PER_MIN = 30.0
SAMPLE_S = 0.2
AS_FACTOR = 1.5  # the Stitcher's RLIMIT_AS over the RSS cap
SKY, PLAIN, CV = "skyscan", "plain pycolmap", "OpenCV Stitcher"
TOOLS = {"skyscan": SKY, "colmap": PLAIN, "stitcher": CV}  # --tools names -> row names, in run order
NO_GEOREF = "n/a (no georef)"


def bench_dir() -> Path:
    """Where the rendered photo sets are cached: ``$XDG_CACHE_HOME/skyscan/bench``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "skyscan" / "bench"


@dataclass(frozen=True)
class PhotoSet:
    """One photo set of the benchmark: a rendered SITL set (with its truth) or the real one."""

    label: str  # "SITL 50", "DJI 16"
    path: Path
    n: int  # photos in
    truth: Path | None  # SITL truth.csv; None for a real set

    @property
    def slug(self) -> str:
        return self.label.lower().replace(" ", "-")

    @property
    def sitl(self) -> bool:
        return self.truth is not None


@dataclass
class Run:
    """One tool on one photo set: what was measured."""

    label: str  # the set's label
    n: int
    tool: str
    status: str
    wall_s: float | None = None
    peak_rss_mb: float | None = None
    registered: int | None = None
    registered_of: int | None = None
    offset: dict | None = None  # the consistency summary (median_m, max_m, median_gsd, max_gsd, doubled, verdict)
    offset_note: str = "n/a"  # what the offset cell says when there is no figure
    rmse_m: float | None = None
    rmse_gsd: float | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def per_min(self) -> float | None:
        return self.n / self.wall_s * 60.0 if self.ok and self.wall_s else None


def _tree_rss(proc: psutil.Process) -> int:
    """RSS in bytes of ``proc`` and all its descendants (0 for those that have gone)."""
    total = 0
    with contextlib.suppress(psutil.Error):
        procs = [proc, *proc.children(recursive=True)]
        for p in procs:
            with contextlib.suppress(psutil.Error):
                total += p.memory_info().rss
    return total


def _kill_tree(popen: subprocess.Popen) -> None:
    """Kill the run's process group (it was started in a session of its own), then reap it."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(popen.pid, signal.SIGKILL)
    popen.wait()


def measure(cmd: list[str], log: Path, cap_s: float, mem_cap: int) -> tuple[int | None, float, int, str]:
    """Run ``cmd`` (stdout + stderr to ``log``), sampling its tree's RSS; (exit code, wall s, peak RSS, limit).

    The exit code is None and ``limit`` says why when the run was killed at a cap.
    """
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    with log.open("wb") as fh:
        t0 = time.perf_counter()
        popen = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=ROOT,
                                 start_new_session=True)  # fmt: skip
        proc = psutil.Process(popen.pid)
        peak, limit = 0, ""
        while popen.poll() is None:
            peak = max(peak, _tree_rss(proc))
            elapsed = time.perf_counter() - t0
            if elapsed > cap_s:
                limit = f"timeout after {cap_s:.0f} s"
            elif mem_cap and peak > mem_cap:
                limit = f"out of memory (tree RSS > {mem_cap / 2**30:.1f} GB)"
            if limit:
                _kill_tree(popen)
                return None, time.perf_counter() - t0, peak, limit
            time.sleep(SAMPLE_S)
        wall = time.perf_counter() - t0
    # Stray descendants (a worker left behind) would otherwise live on.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(popen.pid, signal.SIGKILL)
    return popen.returncode, wall, peak, ""


def _last_line(log: Path) -> str:
    lines = [ln.strip() for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
    return lines[-1][:160] if lines else ""


def _last_line(log: Path) -> str:
    lines = [ln.strip() for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
    return lines[-1][:160] if lines else ""


def _last_record(log: Path) -> dict | None:
    """The last JSON line a helper process printed (None when it printed none: it died)."""
    for line in reversed(log.read_text(errors="replace").splitlines()):
        if line.startswith("{"):
            with contextlib.suppress(ValueError):
                return json.loads(line)
    return None


def _quality(run: Run, q) -> None:
    """The offset figure of a consistency summary (``quality``), tolerant of what is missing."""
    if not isinstance(q, dict):
        run.offset_note = "n/a (no quality)"
        return
    if q.get("median_gsd") is None:
        run.offset_note = "n/a (unmeasured)"
    else:
        run.offset = q
    doubled = q.get("doubled")
    n_doubled = len(doubled) if isinstance(doubled, list) else doubled
    parts = []
    if q.get("median_m") is not None:
        parts.append(f"offset median {q['median_m']:.3f} m, max {q.get('max_m', float('nan')):.3f} m "
                     f"over {q.get('measured', '?')}/{q.get('photos', '?')} photos")  # fmt: skip
    if n_doubled is not None:
        parts.append(f"{n_doubled} doubled")
    if q.get("verdict"):
        v = str(q["verdict"])
        parts.append(v if len(v) <= 240 else v[:237] + "...")
    run.detail += ("; " if run.detail else "") + ", ".join(parts)


def run_skyscan(s: PhotoSet, work: Path, workers: int, cap_s: float, mem_cap: int) -> Run:
    """``skyscan map`` on the set; registration, offset and georeference error come from its map.json."""
    out = work / f"skyscan-{s.slug}"
    log = work / f"skyscan-{s.slug}.log"
    cmd = [sys.executable, "-m", "skyscan", "map", str(s.path), "-o", str(out), "--workers", str(workers)]
    if s.truth is not None:
        cmd += ["--truth", str(s.truth)]
    code, wall, peak, limit = measure(cmd, log, cap_s, mem_cap)
    text = log.read_text(errors="replace")
    if code == 2 and "No such command" in text:
        return Run(s.label, s.n, SKY, "skyscan map: not available")
    run = Run(s.label, s.n, SKY, limit or "ok", wall, peak / 2**20)
    if not limit and code != 0:
        run.status = f"exit {code}: {_last_line(log)}"
    meta_path = out / "map.json"
    if run.ok:
        if not (out / "map.tif").is_file() or not meta_path.is_file():
            run.status = "no map.tif / map.json written"
            return run
        meta = json.loads(meta_path.read_text())
        run.rmse_m, run.rmse_gsd = meta.get("truth_rmse_m"), meta.get("truth_rmse_gsd")
        sfm = meta.get("sfm") or {}
        run.registered, run.registered_of = sfm.get("registered"), sfm.get("photos")
        run.detail = f"photos used {meta.get('photos_used')}/{meta.get('photos_in')}, GSD {meta.get('gsd_m')} m"
        if meta.get("seconds") is not None:
            run.detail += f", own time {float(meta['seconds']):.1f} s"
        secs = sfm.get("seconds")
        if isinstance(secs, dict) and secs:
            run.detail += f" (SfM {sum(float(v) for v in secs.values()):.1f} s)"
        if sfm.get("reprojection_px") is not None:
            run.detail += f", reprojection {sfm['reprojection_px']} px"
        _quality(run, meta.get("quality"))
    return run


def _measured(cmd: list[str], log: Path, cap_s: float, mem_cap: int, s: PhotoSet, tool: str,
              **extra) -> tuple[Run, dict | None]:  # fmt: skip
    """Run a helper process measured: its row, and its last JSON record (None when it was capped, or died
    without one, e.g. killed by the kernel or a crash inside the library: the row says which)."""
    code, wall, peak, limit = measure(cmd, log, cap_s, mem_cap)
    run = Run(s.label, s.n, tool, limit or "ok", wall, peak / 2**20, **extra)
    if limit:
        return run, None
    record = _last_record(log)
    if record is None:
        run.status = f"crashed (exit {code}): {_last_line(log)}"
    return run, record


def run_colmap(s: PhotoSet, work: Path, threads: int, cap_s: float, mem_cap: int) -> Run:
    """Plain pycolmap on the set (benchmarks/_colmap_plain.py ``sfm``, measured), then its map and
    offsets (``evaluate``, its own process, timed apart: detail line only)."""
    out = work / f"colmap-{s.slug}"
    helper = [sys.executable, "-m", "benchmarks._colmap_plain"]
    log = work / f"colmap-{s.slug}.log"
    cmd = [*helper, "sfm", str(s.path), str(out), "--threads", str(threads)]
    run, record = _measured(cmd, log, cap_s, mem_cap, s, PLAIN)
    if record is None:
        return run
    run.status = record.get("status", "no status")
    run.registered, run.registered_of = record.get("registered"), record.get("photos")
    stages = [f"{k[:-2]} {record[k]:.1f} s" for k in ("features_s", "matching_s", "mapping_s") if k in record]
    if record.get("reprojection_px") is not None:
        stages.append(f"reprojection {record['reprojection_px']} px")
    if len(record.get("models") or []) > 1:
        stages.append(f"models {record['models']}")
    run.detail = ", ".join(stages)
    if not run.ok:
        return run

    elog = work / f"colmap-{s.slug}-evaluate.log"
    cmd = [*helper, "evaluate", str(s.path), str(out), "--workers", str(threads)]
    if s.truth is not None:
        cmd += ["--truth", str(s.truth)]
    _, ewall, _, elimit = measure(cmd, elog, cap_s, mem_cap)
    ev = _last_record(elog) if not elimit else None
    if ev is None or ev.get("status") != "ok":
        why = elimit or (ev or {}).get("status") or _last_line(elog)
        run.offset_note = "n/a (evaluation failed)"
        run.detail += f"; evaluation (not timed above) failed after {ewall:.0f} s: {why}"
        return run
    run.rmse_m, run.rmse_gsd = ev.get("truth_rmse_m"), ev.get("truth_rmse_gsd")
    extra = [f"evaluation (not timed above) {ewall:.1f} s: aligned to GPS (scale {ev.get('scale')}, "
             f"camera centres within {ev['gps_fit_m']['median']} m median, {ev['gps_fit_m']['max']} m max of the GPS)"]
    ce = ev.get("centre_error_m")
    if ce:
        extra.append(f"camera centres vs truth RMSE {ce['rmse_h']:.3f} m horizontal, {ce['rmse_v']:.3f} m vertical "
                     f"(max {ce['max_h']:.3f} m)")  # fmt: skip
    extra.append(f"map GSD {ev.get('gsd_m')} m")
    run.detail += "; " + ", ".join(extra)
    _quality(run, ev.get("quality"))
    return run


def expected_panorama_px(photos: Path) -> tuple[int, int]:
    """Size in pixels of a correct full-resolution mosaic of the set: its ground extent over the GSD.

    From ``truth.csv`` (camera positions) and the camera's footprint; lines run north-south and the
    photos are landscape with the top forward, so east-west is across the photo.
    """
    rec = json.loads((photos / PARAMS_FILE).read_text())
    cam = get_camera(rec["request"]["camera"])
    with (photos / "truth.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    x, y, agl = (np.array([float(r[k]) for r in rows]) for k in ("x", "y", "alt_rel"))
    geo = cam.survey_geometry(float(agl.mean()), 0.0, 0.0)
    gsd = geo.footprint_across_m / rec["width_px"]
    return round((np.ptp(x) + geo.footprint_across_m) / gsd), round((np.ptp(y) + geo.footprint_along_m) / gsd)


def run_stitcher(s: PhotoSet, work: Path, threads: int, cap_s: float, mem_cap: int) -> Run:
    """OpenCV's Stitcher (SCANS) on the set in its own process (benchmarks/_stitch.py)."""
    log = work / f"stitcher-{s.slug}.log"
    # The address-space limit is only a backstop (it runs well ahead of RSS); the RSS cap is enforced here.
    as_cap = min(AS_FACTOR * mem_cap, psutil.virtual_memory().total) if mem_cap else 0
    cmd = [sys.executable, "-m", "benchmarks._stitch", str(s.path), str(work / f"stitcher-{s.slug}.jpg"),
           "--threads", str(threads), "--mem-cap-mb", str(as_cap / 2**20)]  # fmt: skip
    run, record = _measured(cmd, log, cap_s, mem_cap, s, CV, offset_note=NO_GEOREF)
    if record is None:
        return run
    run.status = record["status"]
    if run.status == "out of memory" and as_cap:
        run.status += f" (allocation failed under RLIMIT_AS {as_cap / 2**30:.1f} GB)"
    if "registered" in record:
        run.registered, run.registered_of = record["registered"], record.get("photos")
    stages = [f"{k[:-2]} {record[k]:.1f} s" for k in ("read_s", "stitch_s", "write_s") if k in record]
    if "panorama_px" in record:
        w, h = record["panorama_px"]
        text = f"panorama {w} x {h} px"
        if s.truth is not None:
            # Status "ok" only means the Stitcher finished: its size against the truth's is a first check.
            ew, eh = expected_panorama_px(s.path)
            text += f" (the truth's ground extent: about {ew} x {eh} px)"
        stages.append(text)
    run.detail = ", ".join(stages)
    return run


def _fmt(v: float | None, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def _registered(r: Run) -> str:
    if r.registered is None:
        return "n/a"
    return f"{r.registered}/{r.registered_of}" if r.registered_of is not None else str(r.registered)


def _offset(r: Run) -> str:
    if r.offset is None:
        return r.offset_note if r.ok or r.offset_note == NO_GEOREF else "-"
    return f"{r.offset['median_gsd']:.2f}/{r.offset['max_gsd']:.2f} GSD"


def print_table(runs: list[Run], header: bool = True) -> None:
    """The rows of ``runs`` (with the column heads unless ``header`` is False: progress lines)."""
    if header:
        head = (f"{'set':9} {'tool':16} {'wall s':>8} {'photos/min':>10} {'peak RSS MB':>11} {'registered':>10}  "
                f"{'offset med/max':>16}  {'georef RMSE':>16}  status")  # fmt: skip
        print(head)
        print("-" * len(head))
    for r in runs:
        rmse = "-"
        if r.rmse_m is not None:
            rmse = f"{r.rmse_m:.3f} m" + (f" {r.rmse_gsd:.2f} GSD" if r.rmse_gsd is not None else "")
        elif r.tool == CV:
            rmse = NO_GEOREF
        elif r.ok:
            rmse = "n/a (no truth)" if r.label.startswith("DJI") or r.label.startswith("real") else "n/a"
        wall = _fmt(r.wall_s, ".1f") if r.wall_s is not None else "-"
        print(f"{r.label:9} {r.tool:16} {wall:>8} {_fmt(r.per_min, '.1f'):>10} {_fmt(r.peak_rss_mb, '.0f'):>11} "
              f"{_registered(r):>10}  {_offset(r):>16}  {rmse:>16}  {r.status}")  # fmt: skip
        if r.detail:
            print(f"{'':10}{r.detail}", flush=True)


def print_ratios(runs: list[Run], sets: list[PhotoSet]) -> None:
    """Each tool against skyscan per set (time, RSS), then the issue's targets, on the measured numbers only."""
    by = {(r.label, r.tool): r for r in runs}
    print()
    for s in sets:
        sky = by.get((s.label, SKY))
        if sky is None:
            continue
        parts = []
        for tool in (PLAIN, CV):
            r = by.get((s.label, tool))
            if r is None:
                continue
            if not sky.ok:
                parts.append(f"{tool} {r.status if not r.ok else f'{r.wall_s:.0f} s'} (skyscan did not finish)")
            elif not r.ok:
                parts.append(f"{tool} did not finish ({r.status}; skyscan {sky.wall_s:.0f} s)")
            else:
                t, m = r.wall_s / sky.wall_s, r.peak_rss_mb / sky.peak_rss_mb
                parts.append(f"{tool} wall time {t:.2f}x skyscan's, peak RSS {m:.2f}x")
        if parts:
            print(f"vs skyscan, {s.label}: " + "; ".join(parts))
    for s in sets:
        sky, cv = by.get((s.label, SKY)), by.get((s.label, CV))
        if sky is None or cv is None:
            continue
        if not sky.ok:
            verdict = f"skyscan did not finish ({sky.status})"
        elif not cv.ok:
            verdict = f"Stitcher failed ({cv.status}) -> target met (>= 3x or Stitcher fails)"
        else:
            ratio = cv.wall_s / sky.wall_s
            verdict = f"skyscan x{ratio:.2f} faster -> target >= 3x {'met' if ratio >= 3 else 'NOT met'}"
            if cv.registered is not None and cv.registered < s.n:
                verdict += f" (the Stitcher's panorama holds only {cv.registered} of {s.n} photos)"
        print(f"speed, {s.label}: {verdict}")
    oks = [by[(s.label, SKY)] for s in sets if (s.label, SKY) in by and by[(s.label, SKY)].ok]
    for r in oks:
        met = "met" if r.per_min >= TARGET_PER_MIN else "NOT met"
        print(f"throughput, {r.label}: skyscan {r.per_min:.1f} photos/min vs target {TARGET_PER_MIN:.0f} -> {met}")
    sitl = [r for r in oks if any(s.label == r.label and s.sitl for s in sets)]
    if len(sitl) >= 2:
        lo, hi = sitl[0], sitl[-1]
        growth = hi.peak_rss_mb / lo.peak_rss_mb
        met = "met" if growth <= 1.10 else "NOT met"
        print(f"memory: skyscan peak RSS({hi.label}) / RSS({lo.label}) = {growth:.2f} (target <= 1.10) -> {met}")
    elif not oks and any(r.tool == SKY for r in runs):
        print("skyscan: no finished run, so no throughput or memory ratio")


def prepare(sizes: list[int], photo_size: tuple[int, int], camera: str, workers: int) -> list[PhotoSet]:
    """Render (or find cached) the SITL photo sets; print where and how long rendering took."""
    sets = []
    for n in sizes:
        folder = bench_dir() / f"map-{n}-{photo_size[0]}x{photo_size[1]}"
        params = folder / PARAMS_FILE
        before = params.stat().st_mtime_ns if params.is_file() else None
        render_survey(folder, n_photos=n, camera=camera, size=photo_size, workers=workers)
        fresh = params.stat().st_mtime_ns != before
        rec = json.loads((folder / PARAMS_FILE).read_text())
        when = "rendered now" if fresh else "cached"
        print(f"set SITL {n}: {rec['photos']} photos {rec['width_px']} x {rec['height_px']} {camera}, {rec['lines']} "
              f"lines, area {rec['area_m'][0]:.0f} x {rec['area_m'][1]:.0f} m ({when}; rendering took "
              f"{rec['render_s_per_photo']:.2f} s/photo on {rec['workers']} workers) -> {folder}")  # fmt: skip
        sets.append(PhotoSet(f"SITL {n}", folder, int(rec["photos"]), folder / "truth.csv"))
    return sets


def real_set(path: Path | None) -> PhotoSet | None:
    """The real photo set at ``path`` (None, or a note printed, when it is not there)."""
    if path is None:
        return None
    from sensors.mosaic.photos import list_photos

    if not path.is_dir():
        print(f"real set: {path} not found, skipped (--real PATH to point at it)")
        return None
    files = list_photos(path)
    if not files:
        print(f"real set: no photos in {path}, skipped")
        return None
    label = "DJI" if any(f.name.upper().startswith("DJI_") for f in files) else "real"
    print(f"set {label} {len(files)}: {len(files)} real photos, no truth -> {path}")
    return PhotoSet(f"{label} {len(files)}", path, len(files), None)


def _parse_sizes(text: str) -> list[int]:
    if text.strip().lower() in ("0", "none", ""):
        return []
    try:
        sizes = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--sizes takes photo counts like 50,200 (or 0: none), got {text!r}") from None
    if not sizes or min(sizes) < 2:
        raise argparse.ArgumentTypeError(f"--sizes takes photo counts >= 2 (or 0: none), got {text!r}")
    return sizes


def _parse_px(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--photo-size takes WIDTHxHEIGHT like 4000x3000, got {text!r}") from None
    return w, h


def _parse_tools(text: str) -> list[str]:
    names = [t.strip().lower() for t in text.split(",") if t.strip()]
    bad = [t for t in names if t not in TOOLS]
    if bad or not names:
        raise argparse.ArgumentTypeError(f"--tools takes a comma list of {','.join(TOOLS)}, got {text!r}")
    return [t for t in TOOLS if t in names]


def _parse_real(text: str) -> Path | bool:
    """A folder, or False for 'none' (no real set)."""
    return False if text.strip().lower() in ("", "none", "no") else Path(text).expanduser()


def main(argv: list[str] | None = None) -> int:
    """Render the sets, run the tools on each, print the table and the ratios."""
    ap = argparse.ArgumentParser(prog="python -m benchmarks map", description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=_parse_sizes, default=None,
                    help="SITL photo counts, default 50,200 (0: no SITL set, e.g. only the real set)")  # fmt: skip
    ap.add_argument("--photo-size", type=_parse_px, default=None, help="rendered size, default 4000x3000")
    ap.add_argument("--camera", default=CAMERA, help=f"catalogue camera to render, default {CAMERA}")
    ap.add_argument("--real", type=_parse_real, default=None,
                    help=f"real photo set run through every tool as well (no truth); default {REAL} "
                         "(skipped when absent); 'none' to leave it out")  # fmt: skip
    ap.add_argument("--tools", type=_parse_tools, default=list(TOOLS),
                    help="comma list of skyscan,colmap,stitcher (default all three)")
    ap.add_argument("--quick", action="store_true",
                    help="smoke test: --sizes 8 --photo-size 800x600 --real none unless those are given")
    ap.add_argument("--workers", type=int, default=2,
                    help="skyscan --workers, plain pycolmap's num_threads and the Stitcher's cv2.setNumThreads "
                         "(the same, for fairness); also the renderer's processes")  # fmt: skip
    ap.add_argument("--cap-seconds", type=float, default=CAP_S, help="kill a run after this long (default 1200)")
    ap.add_argument("--mem-cap-gb", type=float, default=None,
                    help="kill a run whose tree RSS passes this (default: 16 GB or 70 %% of the RAM "
                         "available now, whichever is smaller)")  # fmt: skip
    ap.add_argument("--skip-stitcher", action="store_true", help="leave the Stitcher out (as --tools without it)")
    ap.add_argument("--skip-skyscan", action="store_true", help="leave skyscan out (as --tools without it)")
    ap.add_argument("--keep", action="store_true", help="keep the maps, models, panoramas and logs (path printed)")
    args = ap.parse_args(argv if argv is not None else [])
    sizes = args.sizes if args.sizes is not None else list(QUICK_SIZES if args.quick else SIZES)
    photo_size = args.photo_size or (QUICK_PHOTO_SIZE if args.quick else PHOTO_SIZE)
    real = (None if args.quick else REAL) if args.real is None else (args.real or None)
    tools = [t for t in args.tools if not (t == "stitcher" and args.skip_stitcher)
             and not (t == "skyscan" and args.skip_skyscan)]  # fmt: skip

    mem_gb = args.mem_cap_gb or min(16.0, 0.7 * psutil.virtual_memory().available / 2**30)
    mem_cap = int(mem_gb * 2**30)
    print(f"map benchmark: {os.cpu_count()} CPUs, {psutil.virtual_memory().total / 2**30:.1f} GB RAM; "
          f"{args.workers} workers/threads per tool; caps {args.cap_seconds:.0f} s, {mem_gb:.1f} GB; "
          f"tools {', '.join(TOOLS[t] for t in tools)}")  # fmt: skip
    sets = prepare(sizes, photo_size, args.camera, args.workers)
    extra = real_set(real)
    if extra is not None:
        sets.append(extra)
    if not sets:
        print("no photo set to run (--sizes 0 and no real set)")
        return 1
    work = Path(tempfile.mkdtemp(prefix="skyscan-bench-map-"))
    runners = {"skyscan": run_skyscan, "colmap": run_colmap, "stitcher": run_stitcher}
    runs: list[Run] = []
    try:
        for s in sets:
            for t in tools:
                runs.append(runners[t](s, work, args.workers, args.cap_seconds, mem_cap))
                print_table(runs[-1:], header=False)
        print()
        print_table(runs)
        print_ratios(runs, sets)
        print(f"skyscan: --workers {args.workers}; plain pycolmap: COLMAP defaults (CPU, exhaustive matching), "
              f"num_threads {args.workers}, wall and RSS of its SfM only (its map for the offset is rendered apart); "
              f"Stitcher: cv2 Stitcher_SCANS with cv2.setNumThreads({args.workers}). Peak RSS: process tree, "
              "sampled every 0.2 s. Offset: per-photo offset measured on the map (median/max, map GSD; "
              "> 3 GSD is a visible defect); n/a for the Stitcher (its panorama has no georeference).")  # fmt: skip
    finally:
        if args.keep:
            print(f"outputs kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
