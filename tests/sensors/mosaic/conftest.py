"""Shared fixtures of the map pipeline tests: one small SITL photo set, its world, one Dask cluster.

Rendering and cluster start-up cost seconds, so each happens once per session: the photo set is
rendered by :func:`sitl.photoset.render_survey` into the user cache (a later session reuses it; the
set records its request, so a changed renderer redoes it), and a two-process ``LocalCluster`` serves
every pipeline test.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sitl.photoset import PARAMS_FILE, render_survey
from sitl.world import World, default_cache_dir

SET_PHOTOS = 16
SET_SIZE = (640, 480)


def small_photoset() -> Path:
    """A 16-photo nadir survey rendered at 640 x 480 (mavic3e, 80 m, 75/65 % overlap), from the cache.

    Also used by the CLI tests (tests/cli/test_map_cli.py), hence a plain function.
    """
    folder = default_cache_dir().parent / "tests" / f"map-{SET_PHOTOS}-{SET_SIZE[0]}x{SET_SIZE[1]}"
    return render_survey(folder, n_photos=SET_PHOTOS, size=SET_SIZE, workers=2)


def photoset_world(folder: Path) -> World:
    """The procedural world a :func:`render_survey` set was rendered from (same parameters, same cache)."""
    rec = json.loads((folder / PARAMS_FILE).read_text())
    req = rec["request"]
    return World.generate(req["home"][0], req["home"][1], seed=req["seed"], extent_m=rec["world_extent_m"],
                          ground_alt_m=req["ground_alt_m"])  # fmt: skip


@pytest.fixture(scope="session")
def photoset() -> Path:
    """Folder of the small SITL photo set (IMG_0001.JPG..., truth.csv, photoset.json)."""
    return small_photoset()


@pytest.fixture(scope="session")
def world(photoset) -> World:
    return photoset_world(photoset)


@pytest.fixture(scope="session")
def dask_client():
    """A LocalCluster of 2 worker processes (1 thread each), shared by all pipeline tests: the one
    ``skyscan map`` starts itself (:func:`sensors.mosaic.cluster.dask_client`)."""
    from sensors.mosaic.cluster import dask_client as local_cluster

    with local_cluster(workers=2) as client:
        yield client
