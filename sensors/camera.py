"""Camera: the geometry of a frame camera (or a multi-camera rig) and the survey maths built on it.

Axes, stated once because planners disagree on them:

* ``sensor_width_mm`` / ``image_width_px`` is the *long* side of the sensor, ``sensor_height_mm`` /
  ``image_height_px`` the short side, as in the data sheets and in EXIF.
* In **landscape** orientation (the default, QGroundControl's ``Landscape``) the long side lies
  *across* track: footprint across = ``H * sensor_width / f``, along = ``H * sensor_height / f``.
  **Portrait** swaps them.
* Each axis has its own pixel pitch (``sensor_width/image_width`` and ``sensor_height/image_height``).
  QGroundControl computes GSD from the width axis only, Mission Planner from the height axis only;
  on QGC's default camera (6.17 x 4.55 mm, 4000 x 3000 px, 4.5 mm) at 100 m that is 3.43 vs
  3.37 cm/px. skyscan keeps both: :class:`SurveyGeometry` reports the GSD across and along track,
  and :meth:`Camera.altitude_for_gsd` uses the coarser axis so that *both* meet the target.

Example (QGroundControl's default camera at 100 m):

>>> cam = Camera(id="qgc-default", name="QGC default", sensor_width_mm=6.17, sensor_height_mm=4.55,
...              image_width_px=4000, image_height_px=3000, focal_length_mm=4.5)
>>> g = cam.survey_geometry(100.0, front_overlap=0.7, side_overlap=0.7)
>>> round(g.gsd_across_m * 100, 2), round(g.gsd_along_m * 100, 2)
(3.43, 3.37)
>>> round(g.line_spacing_m, 1), round(g.trigger_distance_m, 1)
(41.1, 30.3)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum

from skyscan.errors import InputError

__all__ = ["Band", "Camera", "Orientation", "SurveyGeometry"]


def _is_number(value: object) -> bool:
    """A finite int or float (booleans are not numbers here)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


class Orientation(StrEnum):
    """How the sensor sits relative to the direction of flight."""

    LANDSCAPE = "landscape"  # long side across track
    PORTRAIT = "portrait"  # long side along track


@dataclass(frozen=True, slots=True)
class Band:
    """One band (or one lens) of a rig: name and centre wavelength/bandwidth in nanometres."""

    name: str
    center_nm: float | None = None
    bandwidth_nm: float | None = None


@dataclass(frozen=True, slots=True)
class SurveyGeometry:
    """What a camera sees and how a survey must be spaced at one height above the ground."""

    altitude_m: float
    gsd_across_m: float
    gsd_along_m: float
    footprint_across_m: float
    footprint_along_m: float
    line_spacing_m: float
    trigger_distance_m: float

    @property
    def gsd_m(self) -> float:
        """The coarser of the two GSDs: what the map can promise everywhere."""
        return max(self.gsd_across_m, self.gsd_along_m)


@dataclass(frozen=True, slots=True)
class Camera:
    """A frame camera, or the primary camera of a rig, as a survey planner needs it.

    ``shutter_s`` is the exposure time assumed for the motion-blur speed cap (a typical daylight
    mapping exposure for the camera; override it per flight). ``bands`` lists the bands of a
    multispectral rig, all sharing this geometry (their lenses are matched on real rigs).
    """

    id: str
    name: str
    sensor_width_mm: float
    sensor_height_mm: float
    image_width_px: int
    image_height_px: int
    focal_length_mm: float
    min_trigger_interval_s: float = 1.0
    shutter_s: float = 1 / 1000
    bands: tuple[Band, ...] = ()
    aliases: tuple[str, ...] = ()
    source: str = ""
    notes: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        for name in ("sensor_width_mm", "sensor_height_mm", "focal_length_mm", "shutter_s"):
            value = getattr(self, name)
            if not (_is_number(value) and value > 0):
                raise InputError(f"camera {self.id!r}: {name} must be a positive number, got {value!r}")
        for name in ("image_width_px", "image_height_px"):
            value = getattr(self, name)
            if isinstance(value, bool) or not (isinstance(value, int) and value > 0):
                raise InputError(f"camera {self.id!r}: {name} must be a positive integer, got {value!r}")
        t = self.min_trigger_interval_s
        if not (_is_number(t) and t >= 0):
            raise InputError(f"camera {self.id!r}: min_trigger_interval_s must be a number >= 0, got {t!r}")

    # -- intrinsic geometry -------------------------------------------------------------------
    @property
    def pixel_pitch_x_mm(self) -> float:
        """Pixel pitch along the sensor's long side (width)."""
        return self.sensor_width_mm / self.image_width_px

    @property
    def pixel_pitch_y_mm(self) -> float:
        """Pixel pitch along the sensor's short side (height)."""
        return self.sensor_height_mm / self.image_height_px

    @property
    def megapixels(self) -> float:
        return self.image_width_px * self.image_height_px / 1e6

    @property
    def fov_deg(self) -> tuple[float, float]:
        """Field of view (long side, short side) in degrees, pinhole model."""
        f = self.focal_length_mm
        return (
            math.degrees(2 * math.atan(self.sensor_width_mm / (2 * f))),
            math.degrees(2 * math.atan(self.sensor_height_mm / (2 * f))),
        )

    def plausibility_problems(self) -> list[str]:
        """Reasons why this row cannot describe a real camera (empty when it can).

        Checks that each pixel pitch is 1-10 um, that the two pitches agree within 5 % (square
        pixels), and that the lens gives a diagonal field of view of 15-130 degrees (a focal length
        that does not fit the sensor, e.g. a full-frame focal on a phone sensor, or mm typed as px).
        """
        problems = []
        for axis, pitch in (("width", self.pixel_pitch_x_mm), ("height", self.pixel_pitch_y_mm)):
            if not 0.001 <= pitch <= 0.010:
                problems.append(f"pixel pitch along the {axis} is {pitch * 1000:.2f} um (outside 1-10 um)")
        px, py = self.pixel_pitch_x_mm, self.pixel_pitch_y_mm
        if abs(px - py) / max(px, py) > 0.05:
            problems.append(f"pixel pitches differ by {abs(px - py) / max(px, py):.1%} (non-square pixels?)")
        diag = math.hypot(self.sensor_width_mm, self.sensor_height_mm)
        dfov = math.degrees(2 * math.atan(diag / (2 * self.focal_length_mm)))
        if not 15 <= dfov <= 130:
            problems.append(
                f"focal length {self.focal_length_mm} mm on a {diag:.1f} mm diagonal gives a {dfov:.0f} deg "
                "field of view (outside 15-130 deg)"
            )
        if self.sensor_width_mm < self.sensor_height_mm or self.image_width_px < self.image_height_px:
            problems.append("width must be the long side of the sensor and of the image")
        return problems

    # -- survey maths -------------------------------------------------------------------------
    def _pitches(self, orientation: Orientation) -> tuple[float, float]:
        """(across, along) pixel pitch in mm for the orientation."""
        if Orientation(orientation) is Orientation.LANDSCAPE:
            return self.pixel_pitch_x_mm, self.pixel_pitch_y_mm
        return self.pixel_pitch_y_mm, self.pixel_pitch_x_mm

    def _pixels(self, orientation: Orientation) -> tuple[int, int]:
        """(across, along) image size in pixels for the orientation."""
        if Orientation(orientation) is Orientation.LANDSCAPE:
            return self.image_width_px, self.image_height_px
        return self.image_height_px, self.image_width_px

    def altitude_for_gsd(self, gsd_m: float, orientation: Orientation = Orientation.LANDSCAPE) -> float:
        """Height above ground at which neither axis is coarser than ``gsd_m`` (metres per pixel)."""
        if not gsd_m > 0:
            raise InputError(f"GSD must be positive, got {gsd_m!r}")
        coarser_pitch_mm = max(self._pitches(orientation))
        return gsd_m * self.focal_length_mm / coarser_pitch_mm

    def survey_geometry(
        self,
        altitude_m: float,
        front_overlap: float,
        side_overlap: float,
        orientation: Orientation = Orientation.LANDSCAPE,
    ) -> SurveyGeometry:
        """GSD, footprint, line spacing and trigger distance at ``altitude_m`` above the ground."""
        if not altitude_m > 0:
            raise InputError(f"altitude must be positive, got {altitude_m!r} m")
        for label, value in (("front", front_overlap), ("side", side_overlap)):
            if not 0 <= value < 1:
                raise InputError(f"{label} overlap must be in [0, 1), got {value!r}")
        pitch_across, pitch_along = self._pitches(orientation)
        n_across, n_along = self._pixels(orientation)
        gsd_across = altitude_m * pitch_across / self.focal_length_mm
        gsd_along = altitude_m * pitch_along / self.focal_length_mm
        across = gsd_across * n_across
        along = gsd_along * n_along
        return SurveyGeometry(
            altitude_m=altitude_m,
            gsd_across_m=gsd_across,
            gsd_along_m=gsd_along,
            footprint_across_m=across,
            footprint_along_m=along,
            line_spacing_m=across * (1 - side_overlap),
            trigger_distance_m=along * (1 - front_overlap),
        )

    def max_survey_speed(self, geometry: SurveyGeometry, blur_fraction: float = 0.5) -> float:
        """Fastest ground speed (m/s) the camera allows for this geometry.

        Two caps: the camera must be ready for the next shot (``trigger_distance / min interval``),
        and the image must move by no more than ``blur_fraction`` of a pixel during the exposure
        (``speed * shutter <= blur_fraction * GSD along track``, the direction of motion; Mission
        Planner uses one half).
        """
        caps = [blur_fraction * geometry.gsd_along_m / self.shutter_s]
        if self.min_trigger_interval_s > 0:
            caps.append(geometry.trigger_distance_m / self.min_trigger_interval_s)
        return min(caps)
