"""The OpenCV side of the map benchmark, run as its own process: ``python -m benchmarks._stitch``.

``python -m benchmarks._stitch PHOTOS_DIR OUT.jpg [--threads 2] [--mem-cap-mb N]`` reads every
``*.JPG`` of ``PHOTOS_DIR`` into memory (as the Stitcher needs them), stitches them with
``cv2.Stitcher_create(cv2.Stitcher_SCANS)`` (affine model for flat scenes, all pairs matched,
default resolutions: registration at 0.6 MP, compositing at full resolution) on ``--threads``
OpenCV threads, writes the panorama and prints one JSON line: ``status`` ("ok", "out of memory",
"error: ...", or the Stitcher's failure code name), the stage timings, the panorama's size and
``registered``: how many photos the Stitcher kept in it (its ``component()``).

Only cv2 and the standard library are imported, so the process's memory is the Stitcher's.
``--mem-cap-mb`` sets RLIMIT_AS (address space, which runs ahead of RSS), so an allocation beyond
it fails inside OpenCV (reported "out of memory": OpenCV either says so or asserts ``u != 0`` in
``UMat::create`` on the null buffer) instead of the machine running out; the benchmark sets it
above its RSS cap, which it enforces itself by watching RSS.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import sys
import time
from pathlib import Path

import cv2

STATUS = {
    cv2.Stitcher_OK: "ok",
    cv2.Stitcher_ERR_NEED_MORE_IMGS: "ERR_NEED_MORE_IMGS",
    cv2.Stitcher_ERR_HOMOGRAPHY_EST_FAIL: "ERR_HOMOGRAPHY_EST_FAIL",
    cv2.Stitcher_ERR_CAMERA_PARAMS_ADJUST_FAIL: "ERR_CAMERA_PARAMS_ADJUST_FAIL",
}


def _is_oom(exc: BaseException) -> bool:
    """An allocation failure: OpenCV's allocators say so, or assert on the null buffer (UMat::create)."""
    text = str(exc).lower()
    return isinstance(exc, MemoryError) or any(
        k in text for k in ("insufficient memory", "failed to allocate", "out of memory", "u != 0 in function 'create'")
    )


def stitch(photos: Path, out: Path, threads: int) -> dict:
    """Stitch every JPEG of ``photos`` into ``out``; the result record (see the module docstring)."""
    cv2.setNumThreads(threads)
    paths = sorted(p for p in photos.iterdir() if p.suffix.lower() in (".jpg", ".jpeg"))
    record: dict = {"photos": len(paths), "threads": cv2.getNumThreads()}
    t0 = time.perf_counter()
    try:
        images = [cv2.imread(str(p), cv2.IMREAD_COLOR) for p in paths]
        record["read_s"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        stitcher = cv2.Stitcher_create(cv2.Stitcher_SCANS)
        code, pano = stitcher.stitch(images)
        record["stitch_s"] = time.perf_counter() - t1
        record["status"] = STATUS.get(code, f"code {code}")
        if code == cv2.Stitcher_OK:
            t2 = time.perf_counter()
            cv2.imwrite(str(out), pano, [cv2.IMWRITE_JPEG_QUALITY, 90])
            record["write_s"] = time.perf_counter() - t2
            record["panorama_px"] = [int(pano.shape[1]), int(pano.shape[0])]
            with contextlib.suppress(cv2.error, AttributeError):  # the photos in the final panorama
                record["registered"] = len(stitcher.component())
    except (cv2.error, MemoryError) as exc:
        if "read_s" in record and "stitch_s" not in record:  # how long the Stitcher ran before failing
            record["stitch_s"] = time.perf_counter() - t0 - record["read_s"]
        record["status"] = "out of memory" if _is_oom(exc) else f"error: {str(exc).strip().splitlines()[-1][:200]}"
    record["seconds"] = time.perf_counter() - t0
    return record


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks._stitch", description=__doc__.split("\n\n")[0])
    ap.add_argument("photos", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--mem-cap-mb", type=float, default=0.0, help="address-space limit (0 = none)")
    args = ap.parse_args(argv)
    if args.mem_cap_mb > 0:
        cap = int(args.mem_cap_mb * 1024 * 1024)
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    record = stitch(args.photos, args.out, args.threads)
    print(json.dumps(record), flush=True)
    return 0 if record["status"] == "ok" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
