"""The camera catalogue: real cameras from their makers' data sheets, one JSON row each.

Rows live in ``cameras.json``; every row carries a ``source`` naming where its figures come from.
Look a camera up by catalogue id (``mavic3e``), by model name in any case (``"DJI Mavic 3E"``) or
by an alias such as the EXIF model (``FC7303``).
"""

from __future__ import annotations

import difflib
import json
import re
from functools import cache
from importlib import resources

from sensors.camera import Band, Camera
from skyscan.errors import InputError

__all__ = ["camera_from_row", "get_camera", "load_catalog"]


def _key(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def camera_from_row(row: dict) -> Camera:
    """Build a :class:`Camera` from one catalogue row (a JSON object)."""
    row = dict(row)
    try:
        bands = tuple(Band(**b) for b in row.pop("bands", ()))
        aliases = tuple(row.pop("aliases", ()))
        return Camera(bands=bands, aliases=aliases, **row)
    except TypeError as exc:  # unknown or missing field
        raise InputError(f"camera row {row.get('id', '?')!r}: {exc}") from None


@cache
def load_catalog() -> dict[str, Camera]:
    """All catalogue cameras by id, in file order."""
    text = resources.files(__package__).joinpath("cameras.json").read_text(encoding="utf-8")
    cameras: dict[str, Camera] = {}
    for row in json.loads(text)["cameras"]:
        cam = camera_from_row(row)
        if cam.id in cameras:
            raise InputError(f"camera catalogue: duplicate id {cam.id!r}")
        cameras[cam.id] = cam
    return cameras


def get_camera(name: str) -> Camera:
    """The catalogue camera called ``name`` (id, model name or alias, any case or punctuation).

    Raises :class:`~skyscan.errors.InputError` naming the closest catalogue entries when nothing
    matches.
    """
    catalog = load_catalog()
    wanted = _key(name)
    index: dict[str, Camera] = {}
    for cam in catalog.values():
        for label in (cam.id, cam.name, *cam.aliases):
            index.setdefault(_key(label), cam)
    if wanted in index:
        return index[wanted]
    close = difflib.get_close_matches(wanted, list(index), n=3, cutoff=0.5)
    close += [k for k in index if wanted and wanted in k and k not in close]
    names = list(dict.fromkeys(f"{index[k].id} ({index[k].name})" for k in close))[:4]
    hint = f"; did you mean {', '.join(names)}?" if names else "."
    raise InputError(f"unknown camera {name!r}{hint} Run 'skyscan cameras' to list the catalogue.")
