"""World: the ground truth the simulated camera photographs.

A world is a patch of the earth in a UTM frame (:class:`mission.frame.LocalFrame`) around a home
point: a bare-earth terrain model (DTM), a surface model with buildings and trees (DSM), and the
surface's reflectance in five bands (blue, green, red, red edge, near infrared), so that RGB
photos, multispectral bands and NDVI all come from one truth.

Two kinds:

* **Procedural** (:meth:`World.generate`): made from a seed. Terrain with tens of metres of
  smooth relief; main roads with lane markings, a village with a street grid, pavements,
  buildings (flat and gabled roofs, facades with windows), gardens and car parks with painted
  bays; fields with crop rows, pasture, stubble and ploughed soil; hedgerows, garden trees and
  woods; baked sun shading and cast shadows. Vegetation is bright in NIR and red edge and dark in
  red (NDVI 0.6-0.9), soil and roads are not (NDVI < 0.2).
* **From files** (:meth:`World.from_geotiffs`): a real orthophoto (RGB) on a real DEM.

Design (what a 20 MP render costs): the world keeps its rasters at a *base* resolution
(0.25 m by default: 6000 x 6000 cells for the default 1.5 km square) in memory-mapped ``.npy``
files in a cache folder, so every renderer process shares the pages and reads only the parts a
photo sees. Detail finer than a cell, which feature matching needs at 2-3 cm GSD, is computed
*at sample time* from the exact ground coordinates: two tileable noise textures at 1.2 cm and
5 cm per texel (incommensurate periods, one rotated, so the pattern never repeats within a
photo), crop rows from each field's row direction and spacing, and facades (floors, windows)
from each building's table entry. The whole world is a deterministic function of its
:class:`WorldSpec`; the cache is keyed by a hash of the spec and written atomically (the
manifest ``world.json`` last), so a second load is fast and bit-identical.

Reflectance is stored square-root encoded in uint8 (``rho = (q / 255) ** 2``: 4 % steps at
rho = 0.04, finer above). The RGB a camera sees is ``sRGB(rho * DISPLAY_GAIN)``
(:func:`display_rgb`), which is also how a real orthophoto is turned back into reflectance.

Example:

>>> w = World.generate(149.165, -35.363, seed=1, extent_m=200, cache_dir=tmp)  # doctest: +SKIP
>>> w.elevation([w.home_xy[0]], [w.home_xy[1]])  # doctest: +SKIP
array([100.])
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import asdict, dataclass, field
from enum import IntEnum
from pathlib import Path

import cv2
import numpy as np
import shapely
from rasterio.features import rasterize
from rasterio.transform import Affine
from shapely.geometry import LineString, Polygon
from shapely.ops import substring

from mission.frame import LocalFrame
from sensors.projection import Heightfield
from skyscan.atomic import atomic_path, atomic_write_text
from skyscan.errors import InputError

__all__ = [
    "BANDS",
    "DISPLAY_GAIN",
    "Material",
    "World",
    "WorldSpec",
    "band_key",
    "default_cache_dir",
    "display_rgb",
]

FORMAT_VERSION = 1
BANDS = ("blue", "green", "red", "rededge", "nir")
DISPLAY_GAIN = 2.2  # reflectance 0.45 is white in a nominal exposure; 0.18 grey -> sRGB ~160
SUN_AZIMUTH_DEG = 140.0
SUN_ELEVATION_DEG = 48.0
BUILDING_ID0 = 20000  # ids below are fields, from here on buildings
_DETAIL_RES = (0.012, 0.05)  # metres per texel of the two sample-time detail textures
_DETAIL_SIZE = 1024

_BAND_ALIASES = {
    "b": "blue", "blue": "blue",
    "g": "green", "green": "green",
    "r": "red", "red": "red",
    "re": "rededge", "rededge": "rededge", "redge": "rededge",
    "nir": "nir", "nearir": "nir", "nearinfrared": "nir", "infrared": "nir",
}  # fmt: skip
_BAND_CENTRES_NM = {"blue": 475.0, "green": 560.0, "red": 668.0, "rededge": 717.0, "nir": 842.0}


def band_key(band) -> str:
    """The world band (one of :data:`BANDS`) for a band name, a :class:`sensors.camera.Band` or nm.

    Names are matched without case or punctuation (``"Red edge"``, ``"RE"``, ``"NIR"``); a
    ``Band`` whose name is unknown, or a number, goes to the band with the nearest centre.
    """
    if isinstance(band, int | float):
        return min(_BAND_CENTRES_NM, key=lambda k: abs(_BAND_CENTRES_NM[k] - band))
    name = getattr(band, "name", band)
    key = "".join(ch for ch in str(name).lower() if ch.isalnum())
    if key in _BAND_ALIASES:
        return _BAND_ALIASES[key]
    centre = getattr(band, "center_nm", None)
    if centre:
        return band_key(float(centre))
    raise InputError(f"unknown band {name!r}; use one of {', '.join(BANDS)}")


class Material(IntEnum):
    """Surface classes of a procedural world (the ``classes`` truth raster)."""

    NONE = 0
    GRASS = 1
    CROP = 2
    STUBBLE = 3
    SOIL = 4
    FOREST_FLOOR = 5
    TREE = 6
    ASPHALT = 7
    PAVEMENT = 8
    GRAVEL = 9
    PAINT = 10
    ROOF_TILE = 11
    ROOF_GREY = 12
    ROOF_FLAT = 13
    WATER = 14


# Reflectance (blue, green, red, red edge, NIR) per material: typical field-spectrometer values.
_SPECTRA = np.array(
    [
        [0.10, 0.12, 0.14, 0.16, 0.18],  # NONE
        [0.035, 0.085, 0.045, 0.27, 0.44],  # GRASS
        [0.030, 0.080, 0.035, 0.30, 0.50],  # CROP (the plants; rows mix in the field's soil)
        [0.13, 0.17, 0.22, 0.27, 0.31],  # STUBBLE
        [0.07, 0.09, 0.12, 0.16, 0.20],  # SOIL
        [0.05, 0.07, 0.08, 0.16, 0.24],  # FOREST_FLOOR
        [0.025, 0.060, 0.030, 0.22, 0.40],  # TREE
        [0.070, 0.075, 0.080, 0.085, 0.095],  # ASPHALT
        [0.22, 0.24, 0.26, 0.28, 0.30],  # PAVEMENT
        [0.17, 0.19, 0.22, 0.25, 0.27],  # GRAVEL
        [0.62, 0.64, 0.65, 0.65, 0.66],  # PAINT
        [0.07, 0.09, 0.26, 0.33, 0.38],  # ROOF_TILE
        [0.09, 0.10, 0.11, 0.12, 0.13],  # ROOF_GREY
        [0.19, 0.20, 0.21, 0.22, 0.24],  # ROOF_FLAT
        [0.04, 0.05, 0.03, 0.02, 0.01],  # WATER
    ],
    dtype=np.float32,
)
# Amplitude of the sample-time detail texture per material (relative brightness variation).
_DETAIL_AMP = np.array(
    [0.10, 0.32, 0.35, 0.30, 0.28, 0.30, 0.45, 0.16, 0.14, 0.28, 0.06, 0.16, 0.12, 0.16, 0.04],
    dtype=np.float32,
)
_WALLS = np.array(
    [
        [0.42, 0.42, 0.40, 0.42, 0.44],  # light plaster
        [0.09, 0.11, 0.22, 0.28, 0.32],  # brick
        [0.30, 0.28, 0.24, 0.28, 0.31],  # sandstone
        [0.20, 0.22, 0.24, 0.26, 0.28],  # concrete
    ],
    dtype=np.float32,
)
_GLASS = np.array([0.05, 0.055, 0.06, 0.06, 0.06], dtype=np.float32)
_SOILS = np.array(
    [
        [0.06, 0.08, 0.11, 0.15, 0.19],  # dark loam
        [0.11, 0.15, 0.20, 0.24, 0.28],  # light sandy
        [0.08, 0.10, 0.15, 0.19, 0.22],  # reddish
    ],
    dtype=np.float32,
)


def default_cache_dir() -> Path:
    """Where generated worlds are cached unless told otherwise: ``$XDG_CACHE_HOME/skyscan/worlds``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "skyscan" / "worlds"


# -- colour ---------------------------------------------------------------------------------------
def _srgb_encode_lut(n: int = 4096) -> np.ndarray:
    lin = np.linspace(0.0, 1.0, n)
    s = np.where(lin <= 0.0031308, 12.92 * lin, 1.055 * np.power(lin, 1 / 2.4) - 0.055)
    return np.clip(np.round(s * 255), 0, 255).astype(np.uint8)


_SRGB_LUT = _srgb_encode_lut()
_SRGB_DECODE = np.array(
    [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in np.arange(256) / 255.0], dtype=np.float32
)
_SQRT_DECODE = ((np.arange(256, dtype=np.float32) / 255.0) ** 2).astype(np.float32)


def display_rgb(linear: np.ndarray) -> np.ndarray:
    """sRGB uint8 of linear intensities (1.0 = white), e.g. ``reflectance * DISPLAY_GAIN``."""
    idx = np.clip(linear * (len(_SRGB_LUT) - 1) + 0.5, 0, len(_SRGB_LUT) - 1).astype(np.uint16)
    return _SRGB_LUT[idx]


# -- spec -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class WorldSpec:
    """Everything that defines a world; picklable, so worker processes can reopen it.

    ``kind`` is ``"procedural"`` (seed, extent, resolution, terrain parameters) or ``"geotiff"``
    (``ortho_path``, ``dem_path``). ``ground_alt_m`` is the terrain height (metres AMSL) at home.
    """

    kind: str = "procedural"
    home_lon: float = 0.0
    home_lat: float = 0.0
    seed: int = 0
    extent_m: float = 1500.0
    resolution_m: float = 0.25
    ground_alt_m: float = 100.0
    relief_m: float = 30.0
    ortho_path: str = ""
    dem_path: str = ""
    cache_dir: str = field(default="", compare=False)

    def key(self) -> str:
        """A short hash naming this world's cache folder (cache_dir excluded)."""
        d = asdict(self)
        d.pop("cache_dir")
        d["format"] = FORMAT_VERSION
        d["numpy"] = np.__version__.split(".")[0]  # Generator streams may change across majors
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]

    def open(self) -> World:
        """Load (generating and caching it first if needed) the world this spec describes."""
        if self.kind == "geotiff":
            return World.from_geotiffs(self.ortho_path, self.dem_path)
        if self.kind != "procedural":
            raise InputError(f"unknown world kind {self.kind!r}; use 'procedural' or 'geotiff'")
        return World._load_or_generate(self)


# -- the world ------------------------------------------------------------------------------------
class World:
    """Terrain, surface and reflectance of a patch of ground, sampled by vectorised calls.

    Coordinates ``x, y`` are metres in :attr:`frame` (UTM); heights are metres above sea level.
    Build one with :meth:`generate` or :meth:`from_geotiffs`; see the module docstring.
    """

    def __init__(
        self,
        spec: WorldSpec,
        frame: LocalFrame,
        dtm: Heightfield,
        dsm: Heightfield,
        texture: np.ndarray,
        tex_origin: tuple[float, float],
        tex_res: float,
        tex_bands: tuple[str, ...],
        tex_encoding: str,
        classes: np.ndarray | None = None,
        ids: np.ndarray | None = None,
        detail: np.ndarray | None = None,
        fields: dict | None = None,
        buildings: dict | None = None,
    ):
        self.spec = spec
        self.frame = frame
        self.dtm = dtm
        self.dsm = dsm
        self.texture = texture
        self.tex_x0, self.tex_y0 = tex_origin
        self.tex_res = tex_res
        self.tex_bands = tex_bands
        self.tex_encoding = tex_encoding
        self.classes = classes
        self.ids = ids
        self.detail = detail
        self.fields = {k: np.asarray(v, dtype=np.float32) for k, v in (fields or {}).items()}
        self.buildings = {k: np.asarray(v, dtype=np.float64) for k, v in (buildings or {}).items()}
        hx, hy = frame.to_local(spec.home_lon, spec.home_lat)
        self.home_xy = (float(hx), float(hy))

    # -- construction ---------------------------------------------------------------------------
    @classmethod
    def generate(
        cls,
        home_lon: float,
        home_lat: float,
        seed: int = 0,
        *,
        extent_m: float = 1500.0,
        resolution_m: float = 0.25,
        ground_alt_m: float = 100.0,
        relief_m: float = 30.0,
        cache_dir: str | os.PathLike | None = None,
    ) -> World:
        """The procedural world around (home_lon, home_lat) for ``seed``, from the cache if present.

        ``extent_m`` is the side of the square (centred on home), ``resolution_m`` the base cell
        size (finer detail is procedural), ``ground_alt_m`` the terrain height at home (AMSL) and
        ``relief_m`` the typical peak-to-trough relief. The first call for a spec generates and
        caches it (about a minute for the default 1.5 km at 0.25 m, a second for 300 m); later
        calls memory-map the cache.
        """
        if not (50 <= extent_m <= 8000):
            raise InputError(f"world extent must be 50-8000 m, got {extent_m!r}")
        if not (0.05 <= resolution_m <= 2.0):
            raise InputError(f"world resolution must be 0.05-2 m, got {resolution_m!r}")
        if extent_m / resolution_m > 30000:
            raise InputError(
                f"world of {extent_m} m at {resolution_m} m has {extent_m / resolution_m:.0f} cells a side "
                "(OpenCV samples at most 32767): use a coarser resolution or a smaller extent"
            )
        spec = WorldSpec(
            kind="procedural",
            home_lon=float(home_lon),
            home_lat=float(home_lat),
            seed=int(seed),
            extent_m=float(extent_m),
            resolution_m=float(resolution_m),
            ground_alt_m=float(ground_alt_m),
            relief_m=float(relief_m),
            cache_dir=str(cache_dir or default_cache_dir()),
        )
        return cls._load_or_generate(spec)

    @classmethod
    def _load_or_generate(cls, spec: WorldSpec) -> World:
        folder = Path(spec.cache_dir or default_cache_dir()) / f"world-{spec.key()}"
        if not (folder / "world.json").is_file():
            _generate_to(spec, folder)
        return cls._load(spec, folder)

    @classmethod
    def _load(cls, spec: WorldSpec, folder: Path) -> World:
        meta = json.loads((folder / "world.json").read_text())

        def arr(name: str) -> np.ndarray:
            # A plain ndarray view of the memory map: numpy's memmap subclass slows fancy indexing.
            return np.asarray(np.load(folder / f"{name}.npy", mmap_mode="r"))

        frame = LocalFrame(meta["epsg"])
        x0, y0, res = meta["x0"], meta["y0"], meta["res"]
        dtm = Heightfield(arr("dtm"), meta["dtm_x0"], meta["dtm_y0"], meta["dtm_res"], edge="reflect")
        dsm = Heightfield(arr("dsm"), x0, y0, res, edge="reflect")
        return cls(
            spec, frame, dtm, dsm, arr("texture"), (x0, y0), res, BANDS, "sqrt",
            classes=arr("classes"), ids=arr("ids"), detail=np.asarray(arr("detail")),
            fields=meta["fields"], buildings=meta["buildings"],
        )  # fmt: skip

    @classmethod
    def from_geotiffs(cls, ortho_path: str | os.PathLike, dem_path: str | os.PathLike) -> World:
        """A world from a real RGB orthophoto and a DEM (GeoTIFFs in one projected metric CRS).

        The DEM serves as both terrain and surface. It must cover the orthophoto; the two must
        share a CRS; both must be north-up. Only the visible bands exist: asking for NIR or red
        edge raises :class:`~skyscan.errors.InputError`.
        """
        import rasterio

        ortho_path, dem_path = Path(ortho_path), Path(dem_path)
        for p in (ortho_path, dem_path):
            if not p.is_file():
                raise InputError(f"world file not found: {p}")
        try:
            with rasterio.open(ortho_path) as o, rasterio.open(dem_path) as d:
                if o.crs is None or d.crs is None:
                    raise InputError(f"{ortho_path.name} and {dem_path.name} must both be georeferenced (no CRS found)")
                if o.crs != d.crs:
                    raise InputError(
                        f"orthophoto {ortho_path.name} is in {o.crs.to_string()} but DEM {dem_path.name} is in "
                        f"{d.crs.to_string()}: reproject one (gdalwarp -t_srs) so both share a CRS"
                    )
                epsg = o.crs.to_epsg()
                if epsg is None or not o.crs.is_projected:
                    raise InputError(f"{ortho_path.name}: world rasters need a projected metric CRS with an EPSG code")
                ob, db = o.bounds, d.bounds
                tol = abs(d.transform.a)
                if ob.left < db.left - tol or ob.right > db.right + tol or ob.bottom < db.bottom - tol or (
                    ob.top > db.top + tol
                ):
                    raise InputError(
                        f"DEM {dem_path.name} (bounds {tuple(round(v, 1) for v in db)}) does not cover orthophoto "
                        f"{ortho_path.name} (bounds {tuple(round(v, 1) for v in ob)}): use a larger DEM"
                    )
                if o.count < 3:
                    raise InputError(f"{ortho_path.name} has {o.count} band(s); an RGB orthophoto needs 3")
                rgb = np.ascontiguousarray(np.moveaxis(o.read([1, 2, 3]), 0, -1))
                if rgb.dtype != np.uint8:
                    raise InputError(f"{ortho_path.name}: expected 8-bit RGB, got {rgb.dtype}")
                dem = d.read(1, masked=True).astype(np.float32).filled(np.nan)
                otr, dtr = o.transform, d.transform
        except rasterio.errors.RasterioIOError as exc:
            raise InputError(f"cannot read world rasters: {exc}") from None
        if np.isnan(dem).any():
            fill = float(np.nanmedian(dem)) if np.isfinite(dem).any() else 0.0
            dem = np.where(np.isnan(dem), fill, dem).astype(np.float32)
        dtm = Heightfield.from_transform(dem, dtr)
        dtm.edge = "reflect"
        tex = Heightfield.from_transform(rgb[..., 0], otr)  # only to validate and read the geometry
        frame = LocalFrame(int(epsg))
        cx, cy = (ob.left + ob.right) / 2, (ob.bottom + ob.top) / 2
        lon, lat = frame.to_lonlat(cx, cy)
        ground = float(dtm.sample(cx, cy))
        spec = WorldSpec(
            kind="geotiff", home_lon=float(lon), home_lat=float(lat), ground_alt_m=ground,
            ortho_path=str(ortho_path.resolve()), dem_path=str(dem_path.resolve()),
        )  # fmt: skip
        return cls(spec, frame, dtm, dtm, rgb, (tex.x0, tex.y0), tex.res, ("red", "green", "blue"), "srgb")

    # -- geometry -------------------------------------------------------------------------------
    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(xmin, ymin, xmax, ymax) of the textured area, metres in :attr:`frame`."""
        h, w = self.texture.shape[:2]
        return self.tex_x0, self.tex_y0 - h * self.tex_res, self.tex_x0 + w * self.tex_res, self.tex_y0

    @property
    def epsg(self) -> int:
        return self.frame.epsg

    @property
    def home_altitude(self) -> float:
        """Terrain height (m AMSL) at home: the SITL's home altitude must use this value."""
        return float(self.dtm.sample(*self.home_xy))

    @property
    def has_band(self) -> dict[str, bool]:
        return {b: b in self.tex_bands for b in BANDS}

    def elevation(self, x, y) -> np.ndarray:
        """Bare-earth terrain height (DTM) at (x, y), bilinear; NaN outside the world."""
        return self.dtm.sample(x, y, outside=np.nan)

    def surface(self, x, y) -> np.ndarray:
        """Surface height (DSM: roofs, tree tops) at (x, y), bilinear; NaN outside the world."""
        return self.dsm.sample(x, y, outside=np.nan)

    def terrain_function(self):
        """A fast scalar ``(lat, lon) -> terrain height AMSL`` for a vehicle simulator (``sitl.terrain``).

        pyproj per call would cost more than the lookup, so lon/lat are mapped to the frame by a
        second-order expansion around home (error well under a centimetre across a few km).
        """
        lon0, lat0 = self.spec.home_lon, self.spec.home_lat
        # Least-squares quadratic in (dlon, dlat) fitted on a 7 x 7 grid spanning the world.
        span = max(self.bounds[2] - self.bounds[0], self.bounds[3] - self.bounds[1]) / 111_000.0
        g = np.linspace(-span, span, 7)
        da, db = (v.ravel() for v in np.meshgrid(g / max(math.cos(math.radians(lat0)), 0.1), g))
        xs, ys = self.frame.to_local(lon0 + da, lat0 + db)
        basis = np.column_stack([np.ones_like(da), da, db, da * da, db * db, da * db])
        cx = [float(v) for v in np.linalg.lstsq(basis, xs, rcond=None)[0]]
        cy = [float(v) for v in np.linalg.lstsq(basis, ys, rcond=None)[0]]
        arr, tx0, ty0, res = self.dtm.array, self.dtm.x0, self.dtm.y0, self.dtm.res
        rows, cols = arr.shape

        def terrain(lat: float, lon: float) -> float:
            a, b = lon - lon0, lat - lat0
            x = cx[0] + cx[1] * a + cx[2] * b + cx[3] * a * a + cx[4] * b * b + cx[5] * a * b
            y = cy[0] + cy[1] * a + cy[2] * b + cy[3] * a * a + cy[4] * b * b + cy[5] * a * b
            c = min(max((x - tx0) / res - 0.5, 0.0), cols - 1.000001)
            r = min(max((ty0 - y) / res - 0.5, 0.0), rows - 1.000001)
            ci, ri = int(c), int(r)
            fc, fr = c - ci, r - ri
            top = arr[ri, ci] * (1 - fc) + arr[ri, ci + 1] * fc
            bot = arr[ri + 1, ci] * (1 - fc) + arr[ri + 1, ci + 1] * fc
            return float(top * (1 - fr) + bot * fr)

        return terrain

    def lonlat_to_xy(self, lon, lat) -> tuple[np.ndarray, np.ndarray]:
        return self.frame.to_local(lon, lat)

    def xy_to_lonlat(self, x, y) -> tuple[np.ndarray, np.ndarray]:
        return self.frame.to_lonlat(x, y)

    def texel(self, x, y) -> tuple[np.ndarray, np.ndarray]:
        """Fractional (col, row) texture coordinates (cell centres at integers), float32."""
        col = (np.asarray(x, dtype=np.float64) - self.tex_x0) / self.tex_res - 0.5
        row = (self.tex_y0 - np.asarray(y, dtype=np.float64)) / self.tex_res - 0.5
        return col.astype(np.float32), row.astype(np.float32)

    # -- sampling -------------------------------------------------------------------------------
    def reflectance(self, x, y, bands=BANDS, z=None, footprint: float = 0.0) -> np.ndarray:
        """Reflectance (float32, shape ``x.shape + (len(bands),)``) of the surface at (x, y).

        ``z`` (surface-hit heights) lets facades show where a ray meets a wall; without it the
        top surface (roof, canopy, ground) is returned, as an orthophoto sees it. ``footprint``
        (metres) averages away detail finer than a sample of that size (0: point samples).
        """
        x = np.asarray(x, dtype=np.float64)
        shape = x.shape
        col, row = self.texel(x.reshape(1, -1), np.asarray(y, dtype=np.float64).reshape(1, -1))
        zz = None if z is None else np.asarray(z, dtype=np.float32).reshape(1, -1)
        out = self.shade(col, row, bands, zz, footprint)
        return out.reshape(*shape, out.shape[-1])

    def sample_rgb(self, x, y, footprint: float = 0.0) -> np.ndarray:
        """sRGB uint8 colour (shape ``x.shape + (3,)``) of the top surface at (x, y)."""
        return display_rgb(self.reflectance(x, y, ("red", "green", "blue"), footprint=footprint) * DISPLAY_GAIN)

    def sample_band(self, name, x, y, footprint: float = 0.0) -> np.ndarray:
        """Reflectance (float32) in one band (a name such as ``"NIR"``, or a ``Band``) at (x, y)."""
        return self.reflectance(x, y, (band_key(name),), footprint=footprint)[..., 0]

    def material(self, x, y) -> np.ndarray:
        """:class:`Material` codes (uint8) at (x, y) (nearest cell); all NONE for a real world."""
        if self.classes is None:
            return np.zeros(np.shape(x), dtype=np.uint8)
        col, row = self.texel(x, y)
        h, w = self.classes.shape
        c = np.clip(np.round(col).astype(np.int64), 0, w - 1)
        r = np.clip(np.round(row).astype(np.int64), 0, h - 1)
        return np.asarray(self.classes[r, c])

    def shade(
        self, col: np.ndarray, row: np.ndarray, bands=BANDS, z: np.ndarray | None = None, footprint: float = 0.0
    ) -> np.ndarray:
        """Reflectance at float32 texel coordinates (2-D arrays, as OpenCV maps): the renderer's hook.

        ``footprint`` is the ground size of one output pixel (metres): detail finer than it is
        averaged away (mip levels of the detail textures), as a camera pixel integrates over its
        area, so coarse renders do not alias. Returns float32 ``col.shape + (len(bands),)``.
        """
        bands = tuple(band_key(b) for b in bands)
        missing = [b for b in bands if b not in self.tex_bands]
        if missing:
            raise InputError(
                f"this world has no {', '.join(missing)} band (it holds {', '.join(self.tex_bands)}): "
                "use a procedural world for multispectral cameras"
            )
        chan = [self.tex_bands.index(b) for b in bands]
        col = np.ascontiguousarray(col, dtype=np.float32)
        row = np.ascontiguousarray(row, dtype=np.float32)
        q = cv2.remap(self.texture, col, row, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
        if q.ndim == 2:
            q = q[..., None]
        lut = _SQRT_DECODE if self.tex_encoding == "sqrt" else _SRGB_DECODE / DISPLAY_GAIN
        rho = lut[q[..., chan]]
        if self.classes is None:
            return rho
        cls_ = cv2.remap(self.classes, col, row, cv2.INTER_NEAREST, borderMode=cv2.BORDER_REFLECT_101)
        ids = cv2.remap(self.ids, col, row, cv2.INTER_NEAREST, borderMode=cv2.BORDER_REFLECT_101)
        # Local metres (east, north) from the texture's top-left corner: exact enough in float32.
        mx = (col + 0.5) * self.tex_res
        my = (row + 0.5) * -self.tex_res
        d = self._detail(mx, my, footprint)
        rho *= np.clip(1.0 + _DETAIL_AMP[cls_] * d, 0.2, 2.0)[..., None]
        self._rows(rho, chan, cls_, ids, mx, my, d)
        if z is not None:
            z = np.asarray(z, dtype=np.float32)
            self._crown_sides(rho, chan, cls_, ids, col, row, z, d)
            if self.buildings.get("cx") is not None and len(self.buildings["cx"]):
                self._walls(rho, chan, ids, col, row, z, d)
        return rho

    def _crown_sides(self, rho, chan, cls_, ids, col, row, z, d) -> None:
        """Hits well above the terrain that are not on a building are on a tree crown's steep side,
        where the texture under the hit is the ground beside the tree: paint them as foliage."""
        s = self.tex_res / self.dtm.res
        dcol = (col + 0.5) * s + (self.tex_x0 - self.dtm.x0) / self.dtm.res - 0.5
        drow = (row + 0.5) * s + (self.dtm.y0 - self.tex_y0) / self.dtm.res - 0.5
        ground = cv2.remap(self.dtm.array, dcol, drow, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
        sel = (z > ground + 0.4) & (ids < BUILDING_ID0) & (cls_ != Material.TREE)
        if sel.any():
            shade = np.clip(1.0 + _DETAIL_AMP[Material.TREE] * d[sel], 0.2, 2.0) * 0.7
            rho[sel] = _SPECTRA[Material.TREE][chan][None, :] * shade[:, None]

    def _detail(self, mx: np.ndarray, my: np.ndarray, footprint: float = 0.0) -> np.ndarray:
        """Zero-mean fine texture (std ~1 at full detail) at local metres: two wrapped noise textures,
        each sampled at the mip level that matches ``footprint`` (blended between two levels)."""
        c, s = math.cos(0.6), math.sin(0.6)  # the second texture is rotated so the lattices never align
        out = np.zeros(mx.shape, dtype=np.float32)
        for i, (res, weight) in enumerate(zip(_DETAIL_RES, (0.65, 0.55), strict=True)):
            u, v = (mx, my) if i == 0 else (c * mx - s * my, s * mx + c * my)
            mips = self._mips(i)
            lod = min(max(math.log2(footprint / res), 0.0), len(mips) - 1.0) if footprint > 0 else 0.0
            k = int(lod)
            frac = lod - k
            for level, wgt in ((k, 1.0 - frac), (k + 1, frac)):
                if wgt <= 1e-3 or level >= len(mips):
                    continue
                scale = 1.0 / (res * 2**level)
                tex = cv2.remap(mips[level], u * scale, v * scale, cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP)
                out += (weight * wgt) * tex
        return out

    def _mips(self, i: int) -> list[np.ndarray]:
        """Mip levels of detail texture ``i``: 2 x 2 box averages, which keep it tileable."""
        if not hasattr(self, "_mip_cache"):
            self._mip_cache: dict[int, list[np.ndarray]] = {}
        if i not in self._mip_cache:
            levels = [np.ascontiguousarray(self.detail[i])]
            while levels[-1].shape[0] > 8:
                levels.append(cv2.resize(levels[-1], None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA))
            self._mip_cache[i] = levels
        return self._mip_cache[i]

    def _rows(self, rho, chan, cls_, ids, mx, my, d) -> None:
        """Mix the plants of row-crop fields with their soil, row by row (in place)."""
        f = self.fields
        if not len(f.get("cover", ())):
            return
        fid = np.where(ids < BUILDING_ID0, ids, 0)
        cover = f["cover"][fid]
        sel = (cover > 0) & ((cls_ == Material.CROP) | (cls_ == Material.SOIL))
        if not sel.any():
            return
        k = fid[sel]
        ang = f["angle"][k]
        phase = (mx[sel] * np.cos(ang) + my[sel] * np.sin(ang)) / f["spacing"][k]
        profile = 0.5 + 0.5 * np.cos(2 * np.pi * phase)
        thr = 0.5 + 0.5 * np.cos(np.pi * cover[sel])  # a row of plants covers ``cover`` of the period
        plants = np.clip((profile - thr) / 0.18 + 0.5 + 0.35 * d[sel], 0.0, 1.0)
        soil = _SOILS[f["soil"][k].astype(np.int64)][:, chan] * np.clip(1 + 0.25 * d[sel], 0.3, 2)[:, None]
        rho[sel] = plants[:, None] * rho[sel] + (1 - plants[:, None]) * soil

    def wall_mask(self, x, y, z) -> np.ndarray:
        """True where a surface hit (x, y, z) lies on a building facade (between ground and eaves)."""
        x = np.asarray(x, dtype=np.float64)
        col, row = self.texel(x, y)
        if self.ids is None or not len(self.buildings.get("cx", ())):
            return np.zeros(x.shape, dtype=bool)
        h, w = self.ids.shape
        r = np.clip(np.round(row).astype(np.int64), 0, h - 1)
        ids = self.ids[r, np.clip(np.round(col).astype(np.int64), 0, w - 1)]
        out = np.zeros(x.shape, dtype=bool)
        sel = ids >= BUILDING_ID0
        if sel.any():
            out[sel] = self._wall_hits(ids[sel], x[sel], np.asarray(y, dtype=np.float64)[sel],
                                       np.asarray(z, dtype=np.float64)[sel])[0]  # fmt: skip
        return out

    def _wall_hits(self, ids, x, y, z):
        """(is-wall mask, building row) for hits on cells carrying a building id."""
        k = ids.astype(np.int64) - BUILDING_ID0
        eave = self.buildings["base"][k] + self.buildings["eave"][k]
        return (z > self.dtm.sample(x, y) + 0.05) & (z < eave - 0.05), k

    def _walls(self, rho, chan, ids, col, row, z, d) -> None:
        """Facades where a ray meets a building below its eaves (in place)."""
        sel = ids >= BUILDING_ID0
        if not sel.any():
            return
        b = self.buildings
        x = self.tex_x0 + (col[sel].astype(np.float64) + 0.5) * self.tex_res
        y = self.tex_y0 - (row[sel].astype(np.float64) + 0.5) * self.tex_res
        zs = z[sel]
        wall, k = self._wall_hits(ids[sel], x, y, zs)
        if not wall.any():
            return
        idx = np.flatnonzero(sel)[wall]
        k = k[wall]
        x, y, zs = x[wall], y[wall], zs[wall]
        ca, sa = np.cos(b["angle"][k]), np.sin(b["angle"][k])
        lu = (x - b["cx"][k]) * ca + (y - b["cy"][k]) * sa  # along the long axis
        lv = -(x - b["cx"][k]) * sa + (y - b["cy"][k]) * ca
        end_wall = np.abs(lu) / b["hu"][k] > np.abs(lv) / b["hv"][k]
        s = np.where(end_wall, lv, lu)  # horizontal position along the facade
        h = zs - b["base"][k]
        # Facade normal (east, north) and Lambert shading by the sun.
        nx = np.where(end_wall, np.sign(lu) * ca, -np.sign(lv) * sa)
        ny = np.where(end_wall, np.sign(lu) * sa, np.sign(lv) * ca)
        az, el = math.radians(SUN_AZIMUTH_DEG), math.radians(SUN_ELEVATION_DEG)
        lam = np.clip(nx * math.sin(az) * math.cos(el) + ny * math.cos(az) * math.cos(el), 0, None)
        shade = (0.35 + 0.9 * lam).astype(np.float32)
        fh = np.mod(h, 3.0)
        fs = np.mod(s + b["phase"][k], b["bay"][k])
        window = (fh > 0.9) & (fh < 2.3) & (fs > 0.3 * b["bay"][k]) & (fs < 0.75 * b["bay"][k])
        window &= h < b["eave"][k] - 0.6
        mat = _WALLS[b["wall"][k].astype(np.int64)][:, chan]
        mat = np.where(window[:, None], _GLASS[chan][None, :], mat)
        dd = d.reshape(-1)[idx]
        out = mat * (shade * np.clip(1 + 0.12 * dd, 0.5, 1.5))[:, None]
        rho.reshape(-1, rho.shape[-1])[idx] = out

    # -- truth exports --------------------------------------------------------------------------
    def truth_ortho(self, bounds, gsd: float, bands=None) -> tuple[np.ndarray, Affine]:
        """The true orthophoto of ``bounds`` (xmin, ymin, xmax, ymax) at ``gsd`` metres per pixel.

        ``bands=None`` gives sRGB uint8 (rows, cols, 3) as the camera would see it at nominal
        exposure; a tuple of band names gives float32 reflectance (rows, cols, n). The transform
        is a rasterio ``Affine`` in :attr:`frame` (cell centres at ``x0 + (col + 0.5) * gsd``).
        """
        x0, y0, x1, y1 = (float(v) for v in bounds)
        if not (gsd > 0 and x1 > x0 and y1 > y0):
            raise InputError(f"truth_ortho needs xmax > xmin, ymax > ymin and gsd > 0, got {bounds!r}, {gsd!r}")
        w, h = math.ceil((x1 - x0) / gsd - 1e-9), math.ceil((y1 - y0) / gsd - 1e-9)
        transform = Affine(gsd, 0.0, x0, 0.0, -gsd, y1)
        out_bands = ("red", "green", "blue") if bands is None else tuple(bands)
        out = np.empty((h, w, len(out_bands)), dtype=np.uint8 if bands is None else np.float32)
        xs = x0 + (np.arange(w) + 0.5) * gsd
        for r0 in range(0, h, 512):
            ys = y1 - (np.arange(r0, min(h, r0 + 512)) + 0.5) * gsd
            col, row = self.texel(xs[None, :], ys[:, None])
            col, row = np.broadcast_arrays(col, row)
            rho = self.shade(col, row, out_bands, footprint=gsd)
            out[r0 : r0 + len(ys)] = display_rgb(rho * DISPLAY_GAIN) if bands is None else rho
        return out, transform

    def truth_heights(self, bounds, gsd: float, surface: bool = True) -> tuple[np.ndarray, Affine]:
        """DSM (``surface=True``) or DTM heights (float32) of ``bounds`` at ``gsd``, as :meth:`truth_ortho`."""
        x0, y0, x1, y1 = (float(v) for v in bounds)
        w, h = math.ceil((x1 - x0) / gsd - 1e-9), math.ceil((y1 - y0) / gsd - 1e-9)
        xs = x0 + (np.arange(w) + 0.5) * gsd
        ys = y1 - (np.arange(h) + 0.5) * gsd
        hf = self.dsm if surface else self.dtm
        z = hf.sample(xs[None, :], ys[:, None]).astype(np.float32)
        return z, Affine(gsd, 0.0, x0, 0.0, -gsd, y1)

    def export_geotiffs(self, out_dir: str | os.PathLike, gsd: float | None = None, bounds=None) -> tuple[Path, Path]:
        """Write ``ortho.tif`` (RGB) and ``dem.tif`` (DSM) for the map pipeline or :meth:`from_geotiffs`."""
        import rasterio

        out_dir = Path(out_dir)
        gsd = gsd or self.tex_res
        bounds = bounds or self.bounds
        rgb, tr = self.truth_ortho(bounds, gsd)
        dem, dtr = self.truth_heights(bounds, max(gsd, self.dsm.res))
        paths = out_dir / "ortho.tif", out_dir / "dem.tif"
        for path, arr, t in ((paths[0], rgb, tr), (paths[1], dem[..., None], dtr)):
            with atomic_path(path) as tmp, rasterio.open(
                tmp, "w", driver="GTiff", width=arr.shape[1], height=arr.shape[0], count=arr.shape[2],
                dtype=arr.dtype, crs=f"EPSG:{self.epsg}", transform=t, tiled=True, compress="deflate",
            ) as dst:  # fmt: skip
                dst.write(np.moveaxis(arr, -1, 0))
        return paths


# =================================================================================================
# Procedural generation: vector layout -> rasters -> cache. Loops run over objects (roads, fields,
# buildings, trees), never over cells.
# =================================================================================================
def _generate_to(spec: WorldSpec, folder: Path) -> None:
    frame = LocalFrame.around(spec.home_lon, spec.home_lat)
    hx, hy = (float(v) for v in frame.to_local(spec.home_lon, spec.home_lat))
    res = spec.resolution_m
    n = round(spec.extent_m / res)
    ext = n * res
    # Snap the origin to the cell grid so cell edges fall on round coordinates.
    x0 = math.floor((hx - ext / 2) / res) * res
    ytop = math.floor((hy + ext / 2) / res) * res
    home = (hx - x0, hy - (ytop - ext))  # home in local metres from the bottom-left corner
    ss = np.random.SeedSequence([spec.seed, FORMAT_VERSION])
    rngs = {name: np.random.default_rng(s) for name, s in zip(
        ("terrain", "roads", "village", "fields", "trees", "texture", "detail"), ss.spawn(7), strict=True)}  # fmt: skip

    # Terrain at 1 m (smooth), shifted so the ground at home is ground_alt_m.
    dtm_res = max(1.0, res)
    nd = math.ceil(ext / dtm_res) + 1
    dtm = _fbm(rngs["terrain"], (nd, nd), dtm_res, (600.0, 300.0, 150.0, 70.0, 30.0), 1.1)
    dtm = (dtm - dtm.mean()) / max(float(np.ptp(dtm)), 1e-6) * spec.relief_m
    dtm_hf = Heightfield(dtm.astype(np.float32), x0, ytop, dtm_res)
    dtm += spec.ground_alt_m - float(dtm_hf.sample(hx, hy))
    dtm_hf = Heightfield(dtm.astype(np.float32), x0, ytop, dtm_res)

    layout = _layout(spec, ext, home, rngs)
    tr_local = Affine(res, 0.0, 0.0, 0.0, -res, ext)
    classes, ids = _rasterize_layout(layout, n, tr_local)

    # Surface: terrain (bilinear onto the fine grid) + buildings + trees.
    rows = np.arange(n)
    ys = ytop - (rows + 0.5) * res
    xs = x0 + (np.arange(n) + 0.5) * res
    dsm = np.empty((n, n), dtype=np.float32)
    for r0 in range(0, n, 1024):
        dsm[r0 : r0 + 1024] = dtm_hf.sample(xs[None, :], ys[r0 : r0 + 1024, None])
    ground = dsm.copy()
    buildings = _place_buildings(layout["buildings"], dsm, classes, res, ext, x0, ytop)
    tree_shade = _place_trees(layout["trees"], dsm, ground, classes, res, ext)
    del ground
    texture = _compose_texture(rngs["texture"], classes, ids, layout, dsm, tree_shade, dtm_hf, res)
    # Fine grain (pebbles, grass blades) and clumps (tufts, leaves, stains): both needed by SIFT/ORB.
    detail = np.stack([_tileable_noise(rngs["detail"], _DETAIL_SIZE, beta) for beta in (0.75, 1.15)])

    folder.mkdir(parents=True, exist_ok=True)
    for name, arr in (("dtm", dtm.astype(np.float32)), ("dsm", dsm), ("texture", texture), ("classes", classes),
                      ("ids", ids), ("detail", detail.astype(np.float32))):  # fmt: skip
        with atomic_path(folder / f"{name}.npy") as tmp:
            np.save(tmp, arr)
    meta = {
        "spec": asdict(spec) | {"cache_dir": ""},
        "epsg": frame.epsg,
        "x0": x0, "y0": ytop, "res": res,
        "dtm_x0": x0, "dtm_y0": ytop, "dtm_res": dtm_res,
        "fields": layout["field_table"],
        "buildings": buildings,
        "format": FORMAT_VERSION,
    }  # fmt: skip
    atomic_write_text(folder / "world.json", json.dumps(meta))


def _fbm(rng, shape, res, wavelengths, falloff) -> np.ndarray:
    """Smooth fractal noise on a grid: octaves of bicubic-interpolated random lattices."""
    h, w = shape
    out = np.zeros(shape, dtype=np.float32)
    for lam in wavelengths:
        cells = max(2, math.ceil(max(h, w) * res / lam) + 3)
        lattice = rng.standard_normal((cells, cells)).astype(np.float32)
        # Map the grid into the lattice interior (the outer cells only pad bicubic's support).
        scale = res / lam
        yy = (np.arange(h, dtype=np.float32) * scale + 1.0)[:, None] * np.ones((1, w), np.float32)
        xx = (np.arange(w, dtype=np.float32) * scale + 1.0)[None, :] * np.ones((h, 1), np.float32)
        out += cv2.remap(lattice, xx, yy, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT_101) * (lam**falloff)
    return out / max(float(out.std()), 1e-6)


def _noise_fullres(rng, n: int, res: float, wavelengths) -> np.ndarray:
    """Zero-mean, unit-std fractal noise at the base grid (float32), from small lattices."""
    out = np.zeros((n, n), dtype=np.float32)
    for lam in wavelengths:
        cells = max(3, math.ceil(n * res / lam) + 2)
        lattice = rng.standard_normal((cells, cells)).astype(np.float32)
        out += cv2.resize(lattice, (n, n), interpolation=cv2.INTER_CUBIC) * math.sqrt(lam)
    out -= out.mean()
    out /= max(float(out.std()), 1e-6)
    return out


def _tileable_noise(rng, size: int, beta: float) -> np.ndarray:
    """Periodic 1/f^beta noise (zero mean, unit std) by spectral synthesis: tiles without seams."""
    white = rng.standard_normal((size, size))
    f = np.fft.fftfreq(size)
    fr = np.hypot(f[:, None], f[None, :])
    fr[0, 0] = 1.0
    amp = fr**-beta
    amp[0, 0] = 0.0
    amp[fr > 0.35] *= 0.3  # keep a little pixel-scale grain but not aliasing
    noise = np.real(np.fft.ifft2(np.fft.fft2(white) * amp))
    return ((noise - noise.mean()) / noise.std()).astype(np.float32)


def _smooth_curve(points: np.ndarray, samples: int = 400) -> np.ndarray:
    """A smooth polyline through control points (Catmull-Rom), (samples, 2)."""
    p = np.vstack([2 * points[0] - points[1], points, 2 * points[-1] - points[-2]])
    t = np.linspace(0, len(points) - 1, samples)
    i = np.minimum(t.astype(int), len(points) - 2)
    u = (t - i)[:, None]
    p0, p1, p2, p3 = p[i], p[i + 1], p[i + 2], p[i + 3]
    return 0.5 * (
        2 * p1 + (-p0 + p2) * u + (2 * p0 - 5 * p1 + 4 * p2 - p3) * u**2 + (-p0 + 3 * p1 - 3 * p2 + p3) * u**3
    )


def _dashes(line: LineString, dash: float, gap: float, width: float):
    """Buffered dash polygons along a line (road markings)."""
    out = []
    s = gap / 2
    while s + dash < line.length:
        out.append(substring(line, s, s + dash).buffer(width / 2, cap_style="flat"))
        s += dash + gap
    return out


def _layout(spec: WorldSpec, ext: float, home: tuple[float, float], rngs) -> dict:
    """Vector layout in local metres (origin bottom-left): roads, village, fields, trees."""
    box = shapely.box(0, 0, ext, ext)
    hx, hy = home
    r = rngs["roads"]
    layers: dict[str, list] = {k: [] for k in ("asphalt", "pavement", "gravel", "paint", "grass", "parking")}
    trees: list[np.ndarray] = []

    # Village: a rotated street grid whose edge passes close to home.
    rv = rngs["village"]
    half = min(0.2 * ext, 320.0)
    a_v = rv.uniform(0, 2 * math.pi)
    centre = np.array([hx, hy]) + (half + 0.05 * ext) * np.array([math.cos(a_v), math.sin(a_v)]) * 0.85
    theta = rv.uniform(0, math.pi / 2)
    ct, st = math.cos(theta), math.sin(theta)

    def to_local(p, q):
        return centre[0] + p * ct - q * st, centre[1] + p * st + q * ct

    spacing = rv.uniform(55, 75)
    k_max = int(half // spacing)
    street_lines = []
    for k in range(-k_max, k_max + 1):
        for horizontal in (True, False):
            a, b = (-half, k * spacing), (half, k * spacing)
            if not horizontal:
                a, b = (a[1], a[0]), (b[1], b[0])
            street_lines.append(LineString([to_local(*a), to_local(*b)]))
    village = Polygon([to_local(-half, -half), to_local(half, -half), to_local(half, half), to_local(-half, half)])
    layers["grass"].append(village)
    streets = shapely.union_all([ln.buffer(3.0, cap_style="flat") for ln in street_lines])
    walks = shapely.union_all([ln.buffer(5.0, cap_style="flat") for ln in street_lines])
    layers["pavement"].append(walks)
    layers["asphalt"].append(streets)
    for ln in street_lines:
        layers["paint"].extend(_dashes(ln, 2.0, 4.0, 0.15))

    buildings: list[dict] = []
    for i in range(-k_max, k_max):
        for j in range(-k_max, k_max):
            p0, q0 = i * spacing + 5.5, j * spacing + 5.5
            p1, q1 = (i + 1) * spacing - 5.5, (j + 1) * spacing - 5.5
            use = rv.random()
            if use < 0.12:  # car park with painted bays
                lot = Polygon([to_local(p0 + 2, q0 + 2), to_local(p1 - 2, q0 + 2), to_local(p1 - 2, q1 - 2),
                               to_local(p0 + 2, q1 - 2)])  # fmt: skip
                layers["parking"].append(lot)
                for pp in np.arange(p0 + 4, p1 - 4, 2.6):
                    for qa, qb in ((q0 + 3, q0 + 8), (q1 - 8, q1 - 3)):
                        layers["paint"].append(LineString([to_local(pp, qa), to_local(pp, qb)]).buffer(0.07))
                continue
            if use < 0.22:  # park: trees only
                pts = rv.uniform([p0, q0], [p1, q1], size=(int((p1 - p0) * (q1 - q0) / 60), 2))
                for pp, qq in pts:
                    trees.append(np.array([*to_local(pp, qq), rv.uniform(2.5, 4.5), rv.uniform(6, 13)]))
                continue
            for side in range(4):  # houses along the four block edges, back gardens inside
                length = (p1 - p0) if side % 2 == 0 else (q1 - q0)
                s = rv.uniform(2, 6)
                while s < length - 14:
                    front = rv.uniform(8, 13)
                    depth = rv.uniform(8, 11)
                    setback = rv.uniform(3, 5)
                    if side in (0, 2) and (s < depth + 4 or s + front > length - depth - 4):
                        s += front + rv.uniform(3, 8)
                        continue
                    along = s + front / 2
                    inset = setback + depth / 2
                    if side == 0:
                        pc, qc, ang = p0 + along, q0 + inset, 0.0
                    elif side == 1:
                        pc, qc, ang = p1 - inset, q0 + along, math.pi / 2
                    elif side == 2:
                        pc, qc, ang = p0 + along, q1 - inset, 0.0
                    else:
                        pc, qc, ang = p0 + inset, q0 + along, math.pi / 2
                    cx, cy = to_local(pc, qc)
                    buildings.append({
                        "cx": cx, "cy": cy, "angle": theta + ang, "hu": front / 2, "hv": depth / 2,
                        "eave": rv.uniform(3.0, 9.0), "roof": int(rv.integers(0, 3)), "wall": int(rv.integers(0, 4)),
                        "ridge": rv.uniform(1.5, 3.5), "bay": rv.uniform(2.6, 3.6), "phase": rv.uniform(0, 3),
                    })  # fmt: skip
                    s += front + rv.uniform(3, 9)
                # garden trees behind the houses
                for _ in range(int(rv.integers(1, 4))):
                    pp, qq = rv.uniform(p0 + 16, max(p0 + 17, p1 - 16)), rv.uniform(q0 + 16, max(q0 + 17, q1 - 16))
                    trees.append(np.array([*to_local(pp, qq), rv.uniform(1.5, 3.5), rv.uniform(4, 10)]))

    # Main roads: smooth curves across the world, one passing near home.
    main_lines = []
    for m in range(2):
        if m == 0:  # tangent to the village, on the far side of home
            ang = a_v + math.pi / 2 + r.uniform(-0.4, 0.4)
            through = np.array([hx, hy]) - r.uniform(25, 60) * np.array([math.cos(a_v), math.sin(a_v)])
        else:
            ang = r.uniform(0, math.pi)
            through = r.uniform(0.1, 0.9, size=2) * ext
        direction = np.array([math.cos(ang), math.sin(ang)])
        normal = np.array([-direction[1], direction[0]])
        ts = np.linspace(-1.6 * ext, 1.6 * ext, 9)
        lateral = np.cumsum(r.normal(0, 0.04 * ext, size=9))
        lateral -= lateral[4]
        ctrl = through + ts[:, None] * direction + lateral[:, None] * normal
        line = LineString(_smooth_curve(ctrl)).intersection(box.buffer(20))
        if line.is_empty or line.geom_type != "LineString":
            continue
        main_lines.append(line)
        layers["gravel"].append(line.buffer(5.5, cap_style="flat"))
        layers["asphalt"].append(line.buffer(3.6, cap_style="flat"))
        layers["paint"].extend(_dashes(line, 3.0, 6.0, 0.15))
        for off in (-3.3, 3.3):
            edge = line.offset_curve(off)
            if not edge.is_empty:
                layers["paint"].append(edge.buffer(0.08, cap_style="flat"))

    # Fields: Voronoi cells outside the village.
    rf = rngs["fields"]
    n_fields = max(6, int((ext / 110.0) ** 2))
    seeds = rf.uniform(0, ext, size=(n_fields, 2))
    cells = shapely.voronoi_polygons(shapely.MultiPoint(seeds), extend_to=box)
    avoid = village.buffer(8)
    field_geoms, table = [], {"cover": [0.0], "angle": [0.0], "spacing": [1.0], "soil": [0], "kind": [0]}
    kinds = (Material.CROP, Material.CROP, Material.CROP, Material.GRASS, Material.STUBBLE, Material.SOIL,
             Material.GRASS, Material.FOREST_FLOOR)  # fmt: skip
    for cell in cells.geoms:
        g = cell.intersection(box).difference(avoid).buffer(-1.5)
        if g.is_empty or g.area < 200:
            continue
        kind = kinds[int(rf.integers(0, len(kinds)))]
        rot = shapely.minimum_rotated_rectangle(g)
        xy = np.asarray(rot.exterior.coords)
        e = np.diff(xy[:3], axis=0)
        long_edge = e[int(np.argmax(np.hypot(e[:, 0], e[:, 1])))]
        angle = math.atan2(long_edge[1], long_edge[0]) + math.pi / 2  # rows run along the long side
        if kind == Material.CROP:
            cover, spacing = rf.uniform(0.3, 0.75), rf.choice([0.45, 0.6, 0.75, 0.9])
        elif kind == Material.SOIL:  # ploughed furrows
            cover, spacing = 0.0, 1.0
        else:
            cover, spacing = 0.0, 1.0
        table["cover"].append(float(cover))
        table["angle"].append(float(angle))
        table["spacing"].append(float(spacing))
        table["soil"].append(int(rf.integers(0, len(_SOILS))))
        table["kind"].append(int(kind))
        field_geoms.append(g)
        if kind == Material.FOREST_FLOOR:
            area = g.area
            pts = rf.uniform(g.bounds[:2], g.bounds[2:], size=(int(area / 14), 2))
            inside = shapely.contains_xy(g, pts[:, 0], pts[:, 1])
            for px, py in pts[inside]:
                trees.append(np.array([px, py, rf.uniform(2.0, 4.0), rf.uniform(10, 20)]))
        elif rf.random() < 0.35:  # hedgerow along the field boundary (a field cut by a road has parts)
            step = rf.uniform(5, 9)
            for part in shapely.get_parts(g):
                ring = part.exterior
                for s in np.arange(0, ring.length, step):
                    p = ring.interpolate(s)
                    trees.append(np.array([p.x, p.y, rf.uniform(1.5, 3.0), rf.uniform(4, 9)]))
        if rf.random() < 0.3:  # a farm track along one side
            layers["gravel"].append(LineString(xy[:2]).buffer(1.6, cap_style="flat"))

    # Scattered trees on the meadow, none on roads.
    rt = rngs["trees"]
    for _ in range(int(ext * ext / 4000)):
        p = rt.uniform(0, ext, size=2)
        trees.append(np.array([p[0], p[1], rt.uniform(2, 4), rt.uniform(5, 12)]))
    road_area = shapely.union_all(layers["asphalt"] + layers["pavement"] + layers["parking"] + layers["gravel"])
    main = shapely.union_all([ln.buffer(7.0) for ln in main_lines]) if main_lines else None
    buildings = [b for b in buildings if main is None or not main.intersects(_building_polygon(b))]
    tr = np.array(trees) if trees else np.zeros((0, 4))
    if len(tr):
        on_road = shapely.intersects_xy(road_area.buffer(2.0), tr[:, 0], tr[:, 1])
        tr = tr[~on_road]
    foot = [_building_polygon(b) for b in buildings]
    if len(tr) and foot:
        near = shapely.intersects_xy(shapely.union_all(foot).buffer(3.0), tr[:, 0], tr[:, 1])
        tr = tr[~near]
    return {
        "layers": layers, "fields": field_geoms, "field_table": table, "buildings": buildings,
        "footprints": foot, "trees": tr, "main_lines": main_lines,
    }  # fmt: skip


def _building_polygon(b: dict) -> Polygon:
    ca, sa = math.cos(b["angle"]), math.sin(b["angle"])
    corners = [(-b["hu"], -b["hv"]), (b["hu"], -b["hv"]), (b["hu"], b["hv"]), (-b["hu"], b["hv"])]
    return Polygon([(b["cx"] + u * ca - v * sa, b["cy"] + u * sa + v * ca) for u, v in corners])


def _rasterize_layout(layout: dict, n: int, tr: Affine) -> tuple[np.ndarray, np.ndarray]:
    """Class and object-id rasters from the layout (later layers paint over earlier ones)."""
    classes = np.full((n, n), Material.GRASS, dtype=np.uint8)
    shapes = []
    kinds = layout["field_table"]["kind"]
    for i, g in enumerate(layout["fields"], start=1):
        shapes.append((g, kinds[i]))
    lay = layout["layers"]
    shapes += [(g, Material.GRASS) for g in lay["grass"]]
    shapes += [(g, Material.GRAVEL) for g in lay["gravel"]]
    shapes += [(g, Material.PAVEMENT) for g in lay["pavement"]]
    shapes += [(g, Material.ASPHALT) for g in lay["asphalt"] + lay["parking"]]
    shapes = [(g, int(v)) for g, v in shapes if not g.is_empty]
    if shapes:
        rasterize(shapes, out=classes, transform=tr)
    # Markings are narrower than a cell: every touched cell gets paint, so lines stay unbroken.
    paint = [(g, int(Material.PAINT)) for g in lay["paint"] if not g.is_empty]
    if paint:
        rasterize(paint, out=classes, transform=tr, all_touched=True)
    ids = np.zeros((n, n), dtype=np.uint16)
    fshapes = [(g, i) for i, g in enumerate(layout["fields"], start=1) if not g.is_empty]
    if fshapes:
        rasterize(fshapes, out=ids, transform=tr)
    # Building ids reach half a metre beyond the walls, where rays meeting a facade land.
    bshapes = [(g.buffer(0.5, join_style="mitre"), BUILDING_ID0 + i) for i, g in enumerate(layout["footprints"])]
    if bshapes:
        rasterize(bshapes, out=ids, transform=tr)
    return classes, ids


def _place_buildings(blist, dsm, classes, res, ext, x0, ytop) -> dict:
    """Raise roofs into the DSM and paint roof classes; returns the building table (world metres)."""
    n = dsm.shape[0]
    table = {k: [] for k in ("cx", "cy", "angle", "hu", "hv", "base", "eave", "wall", "bay", "phase")}
    for i, b in enumerate(blist):
        poly = _building_polygon(b)
        minx, miny, maxx, maxy = poly.bounds
        c0, c1 = max(0, int(minx / res) - 1), min(n, int(maxx / res) + 2)
        r0, r1 = max(0, int((ext - maxy) / res) - 1), min(n, int((ext - miny) / res) + 2)
        wx, wy = x0 + b["cx"], ytop - ext + b["cy"]
        row = {"cx": wx, "cy": wy, "angle": b["angle"], "hu": b["hu"], "hv": b["hv"], "base": float("nan"),
               "eave": b["eave"], "wall": b["wall"], "bay": b["bay"], "phase": b["phase"]}  # fmt: skip
        for key, value in row.items():  # one row per layout building, so ids and rows stay in step
            table[key].append(value)
        if c0 >= c1 or r0 >= r1:
            continue
        u = (np.arange(c0, c1) + 0.5) * res
        v = ext - (np.arange(r0, r1) + 0.5) * res
        uu, vv = np.meshgrid(u, v)
        ca, sa = math.cos(b["angle"]), math.sin(b["angle"])
        lu = (uu - b["cx"]) * ca + (vv - b["cy"]) * sa
        lv = -(uu - b["cx"]) * sa + (vv - b["cy"]) * ca
        inside = (np.abs(lu) <= b["hu"]) & (np.abs(lv) <= b["hv"])
        if not inside.any():
            continue
        base = float(np.min(dsm[r0:r1, c0:c1][inside]))  # sits on a levelled platform
        table["base"][i] = base
        if b["roof"] == 0:  # flat roof with a parapet
            roof = np.full(uu.shape, base + b["eave"] + 0.4, dtype=np.float32)
            edge = (np.abs(lu) > b["hu"] - 0.4) | (np.abs(lv) > b["hv"] - 0.4)
            roof = np.where(edge, roof + 0.6, roof)
            mat = Material.ROOF_FLAT
        else:  # gable: ridge along the long axis
            slope = b["ridge"] / b["hv"]
            roof = (base + b["eave"] + b["ridge"] - slope * np.abs(lv)).astype(np.float32)
            mat = Material.ROOF_TILE if b["roof"] == 1 else Material.ROOF_GREY
        win = dsm[r0:r1, c0:c1]
        win[inside] = np.maximum(win[inside], roof[inside])
        classes[r0:r1, c0:c1][inside] = mat
    return table


def _place_trees(trees: np.ndarray, dsm, ground, classes, res, ext) -> np.ndarray:
    """Raise tree crowns into the DSM and mark them; returns a crown-shading factor raster (float16)."""
    n = dsm.shape[0]
    shade = np.ones((n, n), dtype=np.float16)
    az, el = math.radians(SUN_AZIMUTH_DEG), math.radians(SUN_ELEVATION_DEG)
    sun = np.array([math.sin(az) * math.cos(el), math.cos(az) * math.cos(el), math.sin(el)])
    for tx, ty, rad, height in trees:
        c0, c1 = max(0, int((tx - rad) / res)), min(n, int((tx + rad) / res) + 1)
        r0, r1 = max(0, int((ext - ty - rad) / res)), min(n, int((ext - ty + rad) / res) + 1)
        if c0 >= c1 or r0 >= r1:
            continue
        u = (np.arange(c0, c1) + 0.5) * res - tx
        v = (ext - (np.arange(r0, r1) + 0.5) * res) - ty
        # Lumpy crown: radius varies with direction.
        ang = np.arctan2(v[:, None], u[None, :])
        lump = 1 + 0.12 * np.sin(5 * ang + tx) + 0.08 * np.sin(9 * ang + ty)
        rr = np.hypot(u[None, :], v[:, None]) / (rad * lump)
        inside = rr < 1
        if not inside.any():
            continue
        # An ellipsoidal crown down to the ground (a height field cannot hold an overhang): smooth
        # inside, a sharp rim, so the renderer refines only the rim.
        zc = np.sqrt(np.clip(1 - rr**2, 0, 1))
        top = ground[r0:r1, c0:c1] + height * zc
        win = dsm[r0:r1, c0:c1]
        higher = inside & (top > win)
        win[higher] = top[higher]
        classes[r0:r1, c0:c1][higher] = Material.TREE
        # Sun-lit side of a sphere-ish crown is brighter.
        nx = u[None, :] / rad * np.ones_like(zc)
        ny = v[:, None] / rad * np.ones_like(zc)
        lam = np.clip(nx * sun[0] + ny * sun[1] + zc * sun[2], 0, 1)
        shade[r0:r1, c0:c1][higher] = (0.55 + 0.6 * lam[higher]).astype(np.float16)
    return shade


def _cast_shadows(dsm: np.ndarray, res: float) -> np.ndarray:
    """Cells in the shadow of buildings and trees (bool), by marching the DSM towards the sun."""
    az, el = math.radians(SUN_AZIMUTH_DEG), math.radians(SUN_ELEVATION_DEG)
    dx, dy = math.sin(az), -math.cos(az)  # towards the sun in (col, row) steps
    drop = res * math.tan(el)
    n = dsm.shape[0]
    horizon = np.full(dsm.shape, -np.inf, dtype=np.float32)
    max_h = float(np.max(dsm) - np.min(dsm))
    steps = min(math.ceil(min(max_h, 25.0) / drop) + 1, 400)
    for k in range(1, steps):
        sc, sr = round(k * dx), round(k * dy)
        if abs(sc) >= n or abs(sr) >= n:
            break
        src = dsm[max(0, sr) : n + min(0, sr), max(0, sc) : n + min(0, sc)]
        dst = horizon[max(0, -sr) : n + min(0, -sr), max(0, -sc) : n + min(0, -sc)]
        np.maximum(dst, src - k * drop, out=dst)
    return horizon > dsm + 0.1


def _compose_texture(rng, classes, ids, layout, dsm, tree_shade, dtm_hf, res) -> np.ndarray:
    """The base reflectance raster (n, n, 5) uint8, square-root encoded."""
    n = classes.shape[0]
    blotch = _noise_fullres(rng, n, res, (40.0, 12.0, 4.0, 1.2))
    vigour = _noise_fullres(rng, n, res, (90.0, 30.0, 10.0))
    grain = _noise_fullres(rng, n, res, (0.8, 0.5))
    shadow = _cast_shadows(dsm, res)
    shadow_f = cv2.GaussianBlur(shadow.astype(np.float32), (0, 0), 0.7)
    # Hill shading of the terrain (mild: drone photos are taken under a high sun).
    gy, gx = np.gradient(dtm_hf.array.astype(np.float32), dtm_hf.res)
    az, el = math.radians(SUN_AZIMUTH_DEG), math.radians(SUN_ELEVATION_DEG)
    norm = np.sqrt(gx**2 + gy**2 + 1)
    hill = (-gx * math.sin(az) * math.cos(el) + gy * math.cos(az) * math.cos(el) + math.sin(el)) / norm / math.sin(el)
    hill = cv2.resize(hill.astype(np.float32), (n, n), interpolation=cv2.INTER_LINEAR)
    # Roof slopes facing the sun are brighter: from the DSM gradient on roofs only.
    ft = layout["field_table"]
    tint = np.ones((len(ft["kind"]), 5), dtype=np.float32)
    nf = len(ft["kind"]) - 1
    tint[1:] = rng.uniform(0.85, 1.15, size=(nf, 1)) * rng.uniform(0.95, 1.05, size=(nf, 5))
    out = np.empty((n, n, 5), dtype=np.uint8)
    veg = np.isin(np.arange(len(_SPECTRA)), [Material.GRASS, Material.CROP, Material.TREE, Material.FOREST_FLOOR])
    for r0 in range(0, n, 512):
        sl = slice(r0, min(n, r0 + 512))
        cls_ = classes[sl]
        rho = _SPECTRA[cls_].copy()
        fid = np.where(ids[sl] < BUILDING_ID0, ids[sl], 0)
        rho *= tint[fid]
        is_veg = veg[cls_]
        # Vegetation vigour: stressed patches lose NIR and gain red, as real crops do.
        v = np.clip(1.0 + 0.18 * vigour[sl], 0.55, 1.3)[..., None]
        vis = np.array([1, 1, 1, 0, 0], dtype=np.float32)
        ir = 1 - vis
        rho = np.where(is_veg[..., None], rho * (vis * (1.6 - 0.6 * v) + ir * v), rho)
        b = 1.0 + 0.10 * blotch[sl] + 0.05 * grain[sl]
        b = np.where(is_veg, b + 0.06 * blotch[sl], b)
        lo, hi = max(0, sl.start - 1), min(n, sl.stop + 1)  # one row of overlap: no seams at strip edges
        gy_r, gx_r = np.gradient(dsm[lo:hi].astype(np.float32), res)
        gy_r, gx_r = gy_r[sl.start - lo : sl.stop - lo], gx_r[sl.start - lo : sl.stop - lo]
        roof = (cls_ >= Material.ROOF_TILE) & (cls_ <= Material.ROOF_FLAT)
        rn = np.sqrt(gx_r**2 + gy_r**2 + 1)
        roof_lam = (-gx_r * math.sin(az) * math.cos(el) + gy_r * math.cos(az) * math.cos(el) + math.sin(el)) / rn
        light = np.where(roof, np.clip(roof_lam / math.sin(el), 0.4, 1.4), hill[sl])
        light = np.where(cls_ == Material.TREE, tree_shade[sl].astype(np.float32), light)
        light = light * (1 - 0.62 * shadow_f[sl])
        rho *= (b * light)[..., None]
        out[sl] = np.clip(np.round(np.sqrt(np.clip(rho, 0, 1)) * 255), 0, 255).astype(np.uint8)
    return out
