"""Photo metadata: the EXIF and XMP tags that geotag a drone photo, written and read back.

One value, :class:`PhotoMeta`, describes a photo's metadata both ways: :func:`write_jpeg` and
:func:`write_band_tiff` write it into a file, :func:`read_photo_meta` parses it out of real files
(DJI JPEGs, senseFly/Pix4D ``Camera:`` tags, MicaSense TIFFs) and of ours.

What is written, and why (REFERENCES.md section 8, ODM ``opendm/photo.py``):

* EXIF: ``Make``, ``Model``, ``DateTimeOriginal`` + ``SubSecTimeOriginal`` + ``OffsetTimeOriginal``
  (UTC), ``FocalLength``, ``FocalLengthIn35mmFilm``, image size, exposure; GPS IFD with
  ``GPSLatitude/Longitude`` and their ``Ref`` tags always, ``GPSAltitude`` with ``GPSAltitudeRef``
  as a BYTE (0 above, 1 below sea level), ``GPSDateStamp``/``GPSTimeStamp`` (UTC).
* XMP ``drone-dji:`` attributes (``GimbalPitch/Roll/YawDegree``, ``FlightPitch/Roll/YawDegree``,
  ``AbsoluteAltitude``, ``RelativeAltitude``), *only when the make is DJI or Hasselblad*: ODM
  reads ``GimbalPitchDegree`` before ``Camera:Pitch`` and adds 90 only for those makes, so on any
  other make these tags would turn a nadir photo into a horizontal one.
* XMP Pix4D ``Camera:Yaw/Pitch/Roll`` in ODM's convention (pitch 0 = nadir, yaw = heading of
  the image top; :func:`sensors.projection.odm_angles`), always.
* Multispectral bands (:func:`write_band_tiff`): 16-bit TIFF, EXIF ``BlackLevel``, ISO, exposure,
  focal-plane resolution, and MicaSense-style XMP (``Camera:BandName``, ``CentralWavelength``,
  ``WavelengthFWHM``, ``RigCameraIndex``, ``RigRelatives``, ``VignettingCenter/Polynomial``,
  ``HorizontalIrradiance``, ``MicaSense:RadiometricCalibration``, ``MicaSense:CaptureId``),
  elements with ``rdf:Seq`` lists as the cameras write them, which is the form ODM and
  micasense/imageprocessing look for.

Reading never guesses silently: a photo without GPS (or with a position it cannot trust) still
gives a :class:`PhotoMeta`, with ``lat``/``lon`` None and ``problems`` saying why, so a map
pipeline can skip it and report the reason (:meth:`PhotoMeta.require_position` raises
:class:`~skyscan.errors.InputError` with that reason). A file that is not an image raises
:class:`~skyscan.errors.InputError`. Values are returned as written: the DJI Mini 2 set that
records ``GimbalPitchDegree = +0.00`` on nadir photos reads as 0.0.

Pillow only (no exiftool binary); XMP is parsed with the standard library's expat-backed
ElementTree (which refuses entity expansion bombs) and keyed by the *prefixes the file declares*
(``drone-dji:``, ``Camera:``), exactly as ODM keys them, so a tag we read is a tag ODM reads.
"""

from __future__ import annotations

import io
import math
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from skyscan.atomic import atomic_path
from skyscan.errors import InputError

__all__ = ["BandMeta", "PhotoMeta", "parse_xmp", "read_photo_meta", "retag_jpeg", "write_band_tiff", "write_jpeg"]

NS = {
    "x": "adobe:ns:meta/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "drone-dji": "http://www.dji.com/drone-dji/1.0/",
    "Camera": "http://pix4d.com/camera/1.0/",
    "MicaSense": "http://micasense.com/MicaSense/1.0/",
    "DLS": "http://micasense.com/DLS/1.0/",
    "tiff": "http://ns.adobe.com/tiff/1.0/",
}
_DJI_MAKES = {"dji", "hasselblad"}

# EXIF tag numbers (TIFF/EXIF 2.32, DNG for BlackLevel).
_MAKE, _MODEL, _SOFTWARE, _DATETIME, _ORIENTATION = 0x010F, 0x0110, 0x0131, 0x0132, 0x0112
_EXIF_IFD, _GPS_IFD, _XMP_TAG = 0x8769, 0x8825, 700
_BLACK_LEVEL, _BLACK_LEVEL_DIM = 0xC61A, 0xC619
_DT_ORIG, _SUBSEC, _SUBSEC_ORIG, _OFFSET_ORIG = 0x9003, 0x9290, 0x9291, 0x9011
_FOCAL, _FOCAL35, _EXPOSURE, _FNUMBER = 0x920A, 0xA405, 0x829A, 0x829D
_ISO_RATINGS, _ISO_SPEED, _SENS_TYPE = 0x8827, 0x8833, 0x8830
_EXIF_W, _EXIF_H = 0xA002, 0xA003
_FP_XRES, _FP_YRES, _FP_UNIT = 0xA20E, 0xA20F, 0xA210


@dataclass(frozen=True)
class BandMeta:
    """The multispectral part of a band image's metadata (MicaSense conventions).

    ``radiometric_calibration`` is (a1, a2, a3); ``vignetting_polynomial`` the coefficients of
    r, r^2, ... (pixels); ``rig_relatives`` the band lens rotation (degrees, x-y-z) relative to the
    rig's reference band; ``irradiance`` W m-2 nm-1 at the sensor; ``principal_point_mm`` and
    ``focal_length_mm`` this lens's calibrated intrinsics; ``focal_plane_px_per_mm`` the EXIF
    focal-plane resolution (pixels per mm on the sensor).
    """

    name: str
    center_nm: float | None = None
    fwhm_nm: float | None = None
    rig_index: int | None = None
    capture_id: str | None = None
    black_level: float | None = None
    radiometric_calibration: tuple[float, ...] | None = None
    vignetting_center: tuple[float, ...] | None = None
    vignetting_polynomial: tuple[float, ...] | None = None
    rig_relatives: tuple[float, ...] | None = None
    rig_translations: tuple[float, ...] | None = None
    irradiance: float | None = None
    principal_point_mm: tuple[float, ...] | None = None
    focal_length_mm: float | None = None
    focal_plane_px_per_mm: float | None = None


@dataclass(frozen=True)
class PhotoMeta:
    """What a photo's EXIF and XMP say about where, when and how it was taken.

    Angles are degrees. ``gimbal_*`` follow DJI (pitch -90 = nadir, absolute yaw), ``flight_*``
    are the aircraft's, ``camera_*`` the ODM/Pix4D ``Camera:`` convention (pitch 0 = nadir).
    ``alt`` is the EXIF GPS altitude (metres above sea level, sign from ``GPSAltitudeRef``),
    ``rel_alt`` DJI's height above the take-off point. ``time`` is ``DateTimeOriginal`` with its
    sub-seconds (timezone-aware when the file gives an offset), ``gps_time`` the GPS UTC stamp.
    ``problems`` lists what is missing or suspicious, in words fit for a report.
    """

    path: Path | None = None
    make: str | None = None
    model: str | None = None
    width: int | None = None
    height: int | None = None
    time: datetime | None = None
    gps_time: datetime | None = None
    lat: float | None = None
    lon: float | None = None
    alt: float | None = None
    rel_alt: float | None = None
    focal_length_mm: float | None = None
    focal_length_35mm: float | None = None
    exposure_s: float | None = None
    iso: float | None = None
    fnumber: float | None = None
    bits_per_sample: int | None = None
    gimbal_pitch: float | None = None
    gimbal_roll: float | None = None
    gimbal_yaw: float | None = None
    flight_pitch: float | None = None
    flight_roll: float | None = None
    flight_yaw: float | None = None
    camera_yaw: float | None = None
    camera_pitch: float | None = None
    camera_roll: float | None = None
    gps_xy_accuracy: float | None = None
    gps_z_accuracy: float | None = None
    band: BandMeta | None = None
    band_names: tuple[str, ...] = ()
    software: str | None = None
    problems: tuple[str, ...] = field(default=())

    @property
    def band_name(self) -> str | None:
        """The band of a single-band image (``"Green"``), None for RGB photos."""
        return self.band.name if self.band else None

    @property
    def has_position(self) -> bool:
        return self.lat is not None and self.lon is not None

    def require_position(self) -> tuple[float, float]:
        """(lat, lon), or :class:`InputError` saying why this photo has no usable position."""
        if not self.has_position:
            why = "; ".join(self.problems) or "no GPS position"
            raise InputError(f"{self.path or 'photo'}: no usable GPS position ({why})")
        return self.lat, self.lon  # type: ignore[return-value]

    def odm_ypr(self) -> tuple[float, float, float] | None:
        """(yaw, pitch, roll) as ODM derives them: ``Camera:`` tags, else DJI's FlightYaw with
        90 + GimbalPitch and GimbalRoll (ODM reads DJI tags first and adds 90 for DJI makes)."""
        make = (self.make or "").lower()
        if make in _DJI_MAKES and None not in (self.flight_yaw, self.gimbal_pitch, self.gimbal_roll):
            return self.flight_yaw, 90.0 + self.gimbal_pitch, self.gimbal_roll  # type: ignore[operator,return-value]
        if None not in (self.camera_yaw, self.camera_pitch, self.camera_roll):
            return self.camera_yaw, self.camera_pitch, self.camera_roll  # type: ignore[return-value]
        return None


# =================================================================================================
# Writing
# =================================================================================================
def _rational(value: float, denominator: int):
    from PIL.TiffImagePlugin import IFDRational

    return IFDRational(round(value * denominator), denominator)


def _dms(value: float) -> tuple:
    """Degrees as (deg, min, sec) rationals; seconds to 1e-7 arcsec (3e-12 deg)."""
    v = abs(value)
    d = int(v)
    m = int((v - d) * 60)
    s = (v - d - m / 60) * 3600
    if s >= 60 - 5e-8:  # rounding spill-over
        s, m = 0.0, m + 1
    return _rational(d, 1), _rational(m, 1), _rational(s, 10**7)


def _utc(t: datetime) -> datetime:
    return t.astimezone(UTC) if t.tzinfo else t.replace(tzinfo=UTC)


def _exif_dicts(meta: PhotoMeta, width: int, height: int) -> tuple[dict, dict, dict]:
    """(IFD0, Exif IFD, GPS IFD) tag dictionaries for ``meta``."""
    ifd0: dict = {_ORIENTATION: 1, _SOFTWARE: meta.software or "skyscan"}
    if meta.make:
        ifd0[_MAKE] = meta.make
    if meta.model:
        ifd0[_MODEL] = meta.model
    exif: dict = {_EXIF_W: int(width), _EXIF_H: int(height)}
    gps: dict = {0: b"\x02\x03\x00\x00"}
    if meta.time is not None:
        t = _utc(meta.time)
        stamp = t.strftime("%Y:%m:%d %H:%M:%S")
        ifd0[_DATETIME] = stamp
        exif[_DT_ORIG] = stamp
        exif[_SUBSEC_ORIG] = f"{t.microsecond // 1000:03d}"
        exif[_SUBSEC] = f"{t.microsecond // 1000:03d}"  # MicaSense tools read SubSecTime
        exif[_OFFSET_ORIG] = "+00:00"
    gt = meta.gps_time or meta.time
    if gt is not None:
        g = _utc(gt)
        gps[29] = g.strftime("%Y:%m:%d")
        gps[7] = (_rational(g.hour, 1), _rational(g.minute, 1), _rational(g.second + g.microsecond / 1e6, 1000))
    if meta.focal_length_mm:
        exif[_FOCAL] = _rational(meta.focal_length_mm, 1000)
    if meta.focal_length_35mm:
        exif[_FOCAL35] = round(meta.focal_length_35mm)
    if meta.exposure_s:
        exif[_EXPOSURE] = _rational(meta.exposure_s, 10**7)
    if meta.fnumber:
        exif[_FNUMBER] = _rational(meta.fnumber, 100)
    if meta.iso:
        exif[_ISO_RATINGS] = round(meta.iso)
        exif[_SENS_TYPE] = 3  # ISO speed
        exif[_ISO_SPEED] = round(meta.iso)
    if meta.lat is not None and meta.lon is not None:
        gps[1], gps[2] = ("N" if meta.lat >= 0 else "S"), _dms(meta.lat)
        gps[3], gps[4] = ("E" if meta.lon >= 0 else "W"), _dms(meta.lon)
    if meta.alt is not None:
        gps[5] = 0 if meta.alt >= 0 else 1  # a BYTE: Pillow types GPS tag 5 from the EXIF spec
        gps[6] = _rational(abs(meta.alt), 1000)
    return ifd0, exif, gps


def _fmt(v: float, digits: int = 2) -> str:
    return f"{v:+.{digits}f}"


def _seq(tag: str, values) -> str:
    items = "".join(f"<rdf:li>{float(v)!r}</rdf:li>" for v in values)
    return f"<{tag}><rdf:Seq>{items}</rdf:Seq></{tag}>"


def build_xmp(meta: PhotoMeta) -> bytes:
    """The XMP packet for ``meta`` (see the module docstring for what goes in and why)."""
    attrs: list[str] = []
    elems: list[str] = []
    used = {"Camera"}
    if (meta.make or "").lower() in _DJI_MAKES:
        used.add("drone-dji")
        for tag, value in (
            ("AbsoluteAltitude", meta.alt), ("RelativeAltitude", meta.rel_alt),
            ("GimbalRollDegree", meta.gimbal_roll), ("GimbalYawDegree", meta.gimbal_yaw),
            ("GimbalPitchDegree", meta.gimbal_pitch), ("FlightRollDegree", meta.flight_roll),
            ("FlightYawDegree", meta.flight_yaw), ("FlightPitchDegree", meta.flight_pitch),
        ):  # fmt: skip
            if value is not None:
                attrs.append(f'drone-dji:{tag}="{_fmt(value)}"')
    ypr = (meta.camera_yaw, meta.camera_pitch, meta.camera_roll)
    if None in ypr and None not in (meta.gimbal_yaw, meta.gimbal_pitch):
        # Exact for a level gimbal (roll 0); callers with a full rotation pass camera_* themselves.
        ypr = (meta.gimbal_yaw % 360.0, 90.0 + meta.gimbal_pitch, meta.gimbal_roll or 0.0)
    if None not in ypr:
        for tag, value in zip(("Yaw", "Pitch", "Roll"), ypr, strict=True):
            elems.append(f"<Camera:{tag}>{value:.6f}</Camera:{tag}>")
    if meta.gps_xy_accuracy is not None:
        elems.append(f"<Camera:GPSXYAccuracy>{meta.gps_xy_accuracy:.3f}</Camera:GPSXYAccuracy>")
    if meta.gps_z_accuracy is not None:
        elems.append(f"<Camera:GPSZAccuracy>{meta.gps_z_accuracy:.3f}</Camera:GPSZAccuracy>")
    b = meta.band
    if b is not None:
        used |= {"MicaSense", "DLS"}
        elems.append(f"<Camera:BandName>{_xml_text(b.name)}</Camera:BandName>")
        for tag, value in (("CentralWavelength", b.center_nm), ("WavelengthFWHM", b.fwhm_nm)):
            if value is not None:
                elems.append(f"<Camera:{tag}>{value:g}</Camera:{tag}>")
        if b.rig_index is not None:
            elems.append(f"<Camera:RigCameraIndex>{b.rig_index}</Camera:RigCameraIndex>")
            elems.append(f"<DLS:SensorId>{b.rig_index}</DLS:SensorId>")
        if b.rig_relatives is not None:
            elems.append(f"<Camera:RigRelatives>{','.join(f'{v:.6f}' for v in b.rig_relatives)}</Camera:RigRelatives>")
            elems.append("<Camera:RigRelativesReferenceRigCameraIndex>0</Camera:RigRelativesReferenceRigCameraIndex>")
        if b.rig_translations is not None:
            txt = ",".join(f"{v:.5f}" for v in b.rig_translations)
            elems.append(f"<Camera:RigTranslations>{txt}</Camera:RigTranslations>")
        if b.vignetting_center is not None:
            elems.append(_seq("Camera:VignettingCenter", b.vignetting_center))
        if b.vignetting_polynomial is not None:
            elems.append(_seq("Camera:VignettingPolynomial", b.vignetting_polynomial))
        elems.append("<Camera:ModelType>perspective</Camera:ModelType>")
        if b.principal_point_mm is not None:
            pp = ",".join(f"{v:.5f}" for v in b.principal_point_mm)
            elems.append(f"<Camera:PrincipalPoint>{pp}</Camera:PrincipalPoint>")
        if b.focal_length_mm is not None:
            elems.append(f"<Camera:PerspectiveFocalLength>{b.focal_length_mm:.6f}</Camera:PerspectiveFocalLength>")
            elems.append("<Camera:PerspectiveFocalLengthUnits>mm</Camera:PerspectiveFocalLengthUnits>")
            elems.append(_seq("Camera:PerspectiveDistortion", (0.0, 0.0, 0.0, 0.0, 0.0)))
        if b.irradiance is not None:
            for tag in ("Irradiance", "HorizontalIrradiance"):
                elems.append(f"<Camera:{tag}>{b.irradiance:.6f}</Camera:{tag}>")
            elems.append("<Camera:IrradianceScaleToSIUnits>1.0</Camera:IrradianceScaleToSIUnits>")
            elems.append(f"<DLS:SpectralIrradiance>{b.irradiance:.6f}</DLS:SpectralIrradiance>")
        if b.radiometric_calibration is not None:
            elems.append(_seq("MicaSense:RadiometricCalibration", b.radiometric_calibration))
        if b.capture_id is not None:
            elems.append(f"<MicaSense:CaptureId>{_xml_text(b.capture_id)}</MicaSense:CaptureId>")
    decl = " ".join(f'xmlns:{p}="{NS[p]}"' for p in sorted(used))
    body = "\n   ".join(elems)
    attr_txt = ("\n    " + "\n    ".join(attrs)) if attrs else ""
    xmp = (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        f'<x:xmpmeta xmlns:x="{NS["x"]}" x:xmptk="skyscan">\n'
        f' <rdf:RDF xmlns:rdf="{NS["rdf"]}">\n'
        f'  <rdf:Description rdf:about="skyscan" {decl}'
        f"{attr_txt}>\n   {body}\n  </rdf:Description>\n </rdf:RDF>\n</x:xmpmeta>\n"
        '<?xpacket end="w"?>'
    )
    return xmp.encode("utf-8")


def _xml_text(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def write_jpeg(path, rgb: np.ndarray, meta: PhotoMeta, quality: int = 92) -> Path:
    """Write an RGB uint8 (h, w, 3) array as a JPEG with ``meta`` in EXIF and XMP, atomically."""
    from PIL import Image

    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise InputError(f"write_jpeg needs an (h, w, 3) uint8 array, got {rgb.dtype} {rgb.shape}")
    h, w = rgb.shape[:2]
    ifd0, exif_ifd, gps_ifd = _exif_dicts(meta, w, h)
    exif = Image.Exif()
    for k, v in ifd0.items():
        exif[k] = v
    sub = exif.get_ifd(_EXIF_IFD)
    sub.update(exif_ifd)
    gps = exif.get_ifd(_GPS_IFD)
    gps.update(gps_ifd)
    path = Path(path)
    with atomic_path(path, suffix=".jpg") as tmp:
        Image.fromarray(rgb).save(tmp, "JPEG", quality=quality, exif=exif, xmp=build_xmp(meta), subsampling=0)
    return path


def write_band_tiff(path, image: np.ndarray, meta: PhotoMeta) -> Path:
    """Write one 16-bit band image (h, w) uint16 as a TIFF with EXIF GPS and MicaSense-style XMP."""
    from PIL import Image, TiffImagePlugin

    image = np.asarray(image)
    if image.dtype != np.uint16 or image.ndim != 2:
        raise InputError(f"write_band_tiff needs an (h, w) uint16 array, got {image.dtype} {image.shape}")
    h, w = image.shape
    ifd0, exif_ifd, gps_ifd = _exif_dicts(meta, w, h)
    b = meta.band
    if b is not None and b.focal_plane_px_per_mm:
        exif_ifd[_FP_XRES] = _rational(b.focal_plane_px_per_mm, 10**6)
        exif_ifd[_FP_YRES] = _rational(b.focal_plane_px_per_mm, 10**6)
        exif_ifd[_FP_UNIT] = 4  # millimetres
    info = TiffImagePlugin.ImageFileDirectory_v2()
    for k, v in ifd0.items():
        info[k] = v
    if b is not None and b.black_level is not None:
        level = round(b.black_level)
        info[_BLACK_LEVEL_DIM] = (2, 2)
        info.tagtype[_BLACK_LEVEL_DIM] = 3  # SHORT
        info[_BLACK_LEVEL] = (level, level, level, level)
        info.tagtype[_BLACK_LEVEL] = 3
    info[_EXIF_IFD] = exif_ifd
    info[_GPS_IFD] = gps_ifd
    info[_XMP_TAG] = build_xmp(meta)
    info.tagtype[_XMP_TAG] = 1  # BYTE, as cameras and exiftool write XMP in TIFF
    path = Path(path)
    with atomic_path(path, suffix=".tif") as tmp:
        Image.fromarray(image).save(tmp, "TIFF", tiffinfo=info)
    return path


# =================================================================================================
# Reading
# =================================================================================================
def parse_xmp(data: bytes) -> dict[str, str | list[str]]:
    """Tags of every ``rdf:Description`` in the first XMP packet of ``data``, keyed ``prefix:Name``.

    Attributes and simple elements give strings; ``rdf:Seq``/``Bag``/``Alt`` give lists. Keys use
    the prefix the file declares for the namespace (``drone-dji:GimbalPitchDegree``), as ODM
    does; the first occurrence of a tag wins. Malformed XML falls back to a tolerant scan of
    ``prefix:Name="value"`` attributes and ``<prefix:Name>value</prefix:Name>`` elements.
    """
    start = data.find(b"<x:xmpmeta")
    end = data.find(b"</x:xmpmeta")
    if start < 0 or end < start:
        return {}
    packet = data[start : end + len(b"</x:xmpmeta>")]
    try:
        return _parse_xmp_xml(packet)
    except ET.ParseError:
        return _scan_xmp(packet.decode("utf-8", "replace"))


def _parse_xmp_xml(packet: bytes) -> dict[str, str | list[str]]:
    prefix_of: dict[str, str] = {}
    tags: dict[str, str | list[str]] = {}

    def qname(name: str) -> str:
        if name.startswith("{"):
            uri, local = name[1:].split("}", 1)
            return f"{prefix_of.get(uri, uri)}:{local}"
        return name

    desc = f"{{{NS['rdf']}}}Description"
    li = f"{{{NS['rdf']}}}li"
    for event, item in ET.iterparse(io.BytesIO(packet), events=("start-ns", "end")):
        if event == "start-ns":
            prefix, uri = item
            prefix_of.setdefault(uri, prefix)
            continue
        if item.tag != desc:
            continue
        for k, v in item.attrib.items():
            key = qname(k)
            if not key.startswith("rdf:"):
                tags.setdefault(key, v)
        for child in item:
            key = qname(child.tag)
            items = [e.text.strip() for e in child.iter(li) if e.text and e.text.strip()]
            if items:
                tags.setdefault(key, items)
            elif child.text and child.text.strip():
                tags.setdefault(key, child.text.strip())
    return tags


def _scan_xmp(text: str) -> dict[str, str | list[str]]:
    tags: dict[str, str | list[str]] = {}
    for k, v in re.findall(r'([A-Za-z][\w.-]*:[A-Za-z]\w*)="([^"]*)"', text):
        if not k.startswith(("xmlns:", "rdf:", "x:")):
            tags.setdefault(k, v)
    for k, v in re.findall(r"<([A-Za-z][\w.-]*:[A-Za-z]\w*)>([^<]+)</\1>", text):
        tags.setdefault(k, v.strip())
    return tags


def _floats(value) -> tuple[float, ...] | None:
    if value is None:
        return None
    parts = value if isinstance(value, list) else re.split(r"[,\s]+", str(value).strip())
    try:
        out = tuple(_float(p) for p in parts if str(p).strip())
    except ValueError:
        return None
    return out or None


def _float(v) -> float:
    s = str(v).strip()
    if "/" in s:  # XMP rationals such as "449/100"
        num, den = s.split("/", 1)
        return float(num) / float(den)
    return float(s)


def _opt_float(value) -> float | None:
    if value is None or isinstance(value, list):
        return None
    try:
        f = _float(value)
    except ValueError:
        return None
    return f if math.isfinite(f) else None


def _num(value) -> float | None:
    """A float from an EXIF value (IFDRational, int, tuple of one, bytes)."""
    if value is None:
        return None
    if isinstance(value, tuple | list):
        value = value[0] if value else None
        if value is None:
            return None
    if isinstance(value, bytes):
        return float(value[0]) if value else None
    try:
        f = float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return f if math.isfinite(f) else None


def _text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    s = str(value).replace("\x00", "").strip()
    return s or None


def _gps_degrees(dms, ref, axis: str, problems: list[str]) -> float | None:
    if dms is None:
        return None
    try:
        parts = [float(v) for v in dms]
    except (TypeError, ValueError, ZeroDivisionError):
        problems.append(f"GPS{axis} is unreadable ({dms!r})")
        return None
    if len(parts) != 3 or not all(math.isfinite(p) for p in parts):
        problems.append(f"GPS{axis} is not degrees/minutes/seconds ({dms!r})")
        return None
    value = parts[0] + parts[1] / 60 + parts[2] / 3600
    ref_s = _text(ref)
    if ref_s is None:
        problems.append(f"GPS{axis}Ref is missing (assumed {'N' if axis == 'Latitude' else 'E'})")
    elif ref_s.upper()[:1] in "SW":
        value = -value
    return value


def _exif_time(stamp, subsec, offset) -> datetime | None:
    s = _text(stamp)
    if not s:
        return None
    try:
        t = datetime.strptime(s[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    sub = _text(subsec)
    if sub and re.fullmatch(r"-?\d+", sub):
        frac = float("0." + sub.lstrip("-"))
        t += timedelta(seconds=-frac if sub.startswith("-") else frac)
    off = _text(offset)
    m = re.fullmatch(r"([+-])(\d\d):(\d\d)", off or "")
    if m:
        sign = 1 if m.group(1) == "+" else -1
        t = t.replace(tzinfo=timezone(sign * timedelta(hours=int(m.group(2)), minutes=int(m.group(3)))))
    return t


def _gps_time(datestamp, timestamp) -> datetime | None:
    d, ts = _text(datestamp), timestamp
    if not d or ts is None:
        return None
    try:
        day = datetime.strptime(d[:10], "%Y:%m:%d").date()
        h, m, s = (float(v) for v in ts)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=h, minutes=m, seconds=s)


def read_photo_meta(path) -> PhotoMeta:
    """Parse a photo's EXIF and XMP (JPEG, MPO, TIFF) into a :class:`PhotoMeta`.

    Raises :class:`~skyscan.errors.InputError` when the file is missing or not an image; missing
    tags become None with a reason in ``problems``.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise InputError(f"photo not found: {path}")
    try:
        with Image.open(path) as im:
            width, height = im.size
            exif = im.getexif()
            ifd = exif.get_ifd(_EXIF_IFD)
            gps = exif.get_ifd(_GPS_IFD)
            xmp_raw = im.info.get("xmp")
            if xmp_raw is None and hasattr(im, "tag_v2"):
                xmp_raw = im.tag_v2.get(_XMP_TAG)
            bits = im.tag_v2.get(258) if hasattr(im, "tag_v2") else None
            black = im.tag_v2.get(_BLACK_LEVEL) if hasattr(im, "tag_v2") else exif.get(_BLACK_LEVEL)
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise InputError(f"{path}: not a readable image ({exc})") from None
    if isinstance(xmp_raw, str):
        xmp_raw = xmp_raw.encode("utf-8")
    if xmp_raw is None:  # some writers put the packet elsewhere; ODM scans the whole file too
        with open(path, "rb") as fh:
            xmp_raw = fh.read()
    xmp = parse_xmp(xmp_raw or b"")

    problems: list[str] = []
    if not exif:
        problems.append("no EXIF data")
    make = _text(exif.get(_MAKE)) or _text(xmp.get("tiff:Make"))
    model = _text(exif.get(_MODEL)) or _text(xmp.get("tiff:Model"))
    if not gps:
        problems.append("no GPS data in EXIF")
    lat = _gps_degrees(gps.get(2), gps.get(1), "Latitude", problems) if gps else None
    lon = _gps_degrees(gps.get(4), gps.get(3), "Longitude", problems) if gps else None
    if gps and (lat is None) != (lon is None):
        problems.append("GPS position is incomplete (latitude or longitude missing)")
        lat = lon = None
    elif gps and lat is None:
        problems.append("GPS data has no latitude/longitude")
    if lat is not None and not (-90 <= lat <= 90 and -180 <= lon <= 180):  # type: ignore[operator]
        problems.append(f"GPS position out of range ({lat}, {lon})")
        lat = lon = None
    if lat == 0 and lon == 0:
        problems.append("GPS position is (0, 0): the receiver had no fix")
        lat = lon = None
    alt = _num(gps.get(6)) if gps else None
    if alt is not None and (_num(gps.get(5)) or 0) > 0:
        alt = -alt
    dji_abs = _opt_float(xmp.get("drone-dji:AbsoluteAltitude"))
    if alt is None and dji_abs is not None:
        alt = dji_abs
    if alt is None and lat is not None:
        problems.append("no GPS altitude")

    iso = _num(ifd.get(_ISO_SPEED)) or _num(ifd.get(_ISO_RATINGS))
    band = _band_meta(xmp, ifd, black)
    names = xmp.get("Camera:BandName")
    band_names = tuple(names) if isinstance(names, list) else ((names,) if names else ())
    meta = PhotoMeta(
        path=path,
        make=make,
        model=model,
        width=int(width),
        height=int(height),
        time=_exif_time(ifd.get(_DT_ORIG), ifd.get(_SUBSEC_ORIG) or ifd.get(_SUBSEC), ifd.get(_OFFSET_ORIG)),
        gps_time=_gps_time(gps.get(29), gps.get(7)) if gps else None,
        lat=lat,
        lon=lon,
        alt=alt,
        rel_alt=_opt_float(xmp.get("drone-dji:RelativeAltitude")),
        focal_length_mm=_num(ifd.get(_FOCAL)),
        focal_length_35mm=_num(ifd.get(_FOCAL35)),
        exposure_s=_num(ifd.get(_EXPOSURE)),
        iso=iso,
        fnumber=_num(ifd.get(_FNUMBER)),
        bits_per_sample=int(_num(bits)) if _num(bits) else None,
        gimbal_pitch=_opt_float(xmp.get("drone-dji:GimbalPitchDegree")),
        gimbal_roll=_opt_float(xmp.get("drone-dji:GimbalRollDegree")),
        gimbal_yaw=_opt_float(xmp.get("drone-dji:GimbalYawDegree")),
        flight_pitch=_opt_float(xmp.get("drone-dji:FlightPitchDegree")),
        flight_roll=_opt_float(xmp.get("drone-dji:FlightRollDegree")),
        flight_yaw=_opt_float(xmp.get("drone-dji:FlightYawDegree")),
        camera_yaw=_opt_float(xmp.get("Camera:Yaw")),
        camera_pitch=_opt_float(xmp.get("Camera:Pitch")),
        camera_roll=_opt_float(xmp.get("Camera:Roll")),
        gps_xy_accuracy=_opt_float(xmp.get("Camera:GPSXYAccuracy")),
        gps_z_accuracy=_opt_float(xmp.get("Camera:GPSZAccuracy")),
        band=band,
        band_names=band_names,
        software=_text(exif.get(_SOFTWARE)),
        problems=tuple(problems),
    )
    # No DJI gimbal tags but Pix4D ones: give the DJI view too (pitch 0 = nadir -> -90).
    if meta.gimbal_pitch is None and meta.camera_pitch is not None:
        meta = replace(meta, gimbal_pitch=meta.camera_pitch - 90.0, gimbal_yaw=meta.camera_yaw,
                       gimbal_roll=meta.camera_roll)  # fmt: skip
    return meta


def _band_meta(xmp: dict, ifd, black) -> BandMeta | None:
    name = xmp.get("Camera:BandName")
    if not name or isinstance(name, list):
        return None
    black_levels = _floats(list(black) if isinstance(black, tuple | list) else black)
    idx = _opt_float(xmp.get("Camera:RigCameraIndex"))
    if idx is None:
        idx = _opt_float(xmp.get("DLS:SensorId"))
    fp = _num(ifd.get(_FP_XRES))
    unit = _num(ifd.get(_FP_UNIT))
    if fp and unit in (2, 3):  # per inch / per cm -> per mm
        fp = fp / (25.4 if unit == 2 else 10.0)
    focal = _opt_float(xmp.get("Camera:PerspectiveFocalLength"))
    if focal is not None and xmp.get("Camera:PerspectiveFocalLengthUnits") != "mm" and fp:
        focal = focal / fp  # older MicaSense firmware gives it in pixels
    irr = _opt_float(xmp.get("Camera:HorizontalIrradiance"))
    if irr is None:
        irr = _opt_float(xmp.get("Camera:Irradiance"))
    return BandMeta(
        name=str(name).strip(),
        center_nm=_opt_float(xmp.get("Camera:CentralWavelength")),
        fwhm_nm=_opt_float(xmp.get("Camera:WavelengthFWHM")),
        rig_index=int(idx) if idx is not None else None,
        capture_id=_text(xmp.get("MicaSense:CaptureId")) or _text(xmp.get("Camera:CaptureUUID")),
        black_level=float(np.mean(black_levels)) if black_levels else None,
        radiometric_calibration=_floats(xmp.get("MicaSense:RadiometricCalibration")),
        vignetting_center=_floats(xmp.get("Camera:VignettingCenter")),
        vignetting_polynomial=_floats(xmp.get("Camera:VignettingPolynomial")),
        rig_relatives=_floats(xmp.get("Camera:RigRelatives")),
        rig_translations=_floats(xmp.get("Camera:RigTranslations")),
        irradiance=irr,
        principal_point_mm=_floats(xmp.get("Camera:PrincipalPoint")),
        focal_length_mm=focal,
        focal_plane_px_per_mm=fp,
    )



# =================================================================================================
# Re-tagging an existing JPEG (geotagging): new GPS EXIF and orientation XMP, image data untouched
# =================================================================================================
_SOI, _SOS, _EOI, _APP0, _APP1 = 0xD8, 0xDA, 0xD9, 0xE0, 0xE1
_EXIF_HEADER = b"Exif\x00\x00"
_XMP_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"
_MAX_SEGMENT = 65533  # a JPEG segment's payload (the 2-byte length counts itself)


def _jpeg_header_segments(data: bytes, where) -> tuple[list[tuple[int, bytes]], int]:
    """The marker segments before the first scan as (marker, whole segment bytes), and where the scan starts."""
    if data[:2] != b"\xff\xd8":
        raise InputError(f"{where}: not a JPEG file (no start-of-image marker); only JPEG photos can be re-tagged")
    segments: list[tuple[int, bytes]] = []
    pos = 2
    while True:
        if pos + 2 > len(data) or data[pos] != 0xFF:
            raise InputError(f"{where}: damaged JPEG (no marker at byte {pos}); re-save it or leave it out")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte before a marker
            pos += 1
            continue
        if marker in (_SOS, _EOI):
            return segments, pos
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # stand-alone markers carry no length
            segments.append((marker, data[pos : pos + 2]))
            pos += 2
            continue
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if length < 2 or pos + 2 + length > len(data):
            raise InputError(f"{where}: damaged JPEG (segment 0x{marker:02X} at byte {pos} runs past the end)")
        segments.append((marker, data[pos : pos + 2 + length]))
        pos += 2 + length


def _segment(marker: int, payload: bytes, where) -> bytes:
    if len(payload) > _MAX_SEGMENT:
        raise InputError(f"{where}: metadata block of {len(payload)} bytes does not fit in one JPEG segment "
                         f"({_MAX_SEGMENT} bytes); strip the maker notes first")  # fmt: skip
    return bytes((0xFF, marker)) + (len(payload) + 2).to_bytes(2, "big") + payload


def _retag_exif(old_payload: bytes | None, meta: PhotoMeta) -> bytes:
    """The EXIF APP1 payload: the photo's own EXIF with its GPS IFD replaced by ``meta``'s.

    Everything else (make, model, capture time, exposure, maker notes) is kept as the camera wrote
    it; Pillow re-serialises the directories (an embedded thumbnail, IFD1, is not carried over).
    """
    from PIL import Image

    exif = Image.Exif()
    if old_payload:
        exif.load(old_payload)
    gps_new = _exif_dicts(meta, 0, 0)[2]
    exif.get_ifd(_EXIF_IFD)  # load the Exif sub-IFD so that it is written back
    gps = exif.get_ifd(_GPS_IFD)
    gps.clear()
    gps.update(gps_new)
    if _GPS_IFD not in exif:
        exif[_GPS_IFD] = gps  # a photo that had no GPS IFD gets one
    return exif.tobytes()


def _xmp_tag_names(packet: str) -> set[tuple[str, str]]:
    """(namespace URI, local name) of every attribute and element tag in our own XMP packet."""
    names = set(re.findall(r"\b([A-Za-z][\w-]*):(\w+)=\"", packet))
    names |= set(re.findall(r"<([A-Za-z][\w-]*):(\w+)>", packet))
    return {(NS[p], n) for p, n in names if p in NS and p not in ("x", "rdf")}


def _merge_xmp(old_packet: bytes | None, ours: bytes) -> bytes:
    """``ours`` as the first ``rdf:Description`` of the photo's own XMP, whose copies of our tags are removed.

    The photo keeps every XMP tag we do not write (DJI's calibration, RTK flags, lens data); tags we
    do write appear once, so no reader can pick a stale value whatever order it reads in. A packet we
    cannot edit safely (no ``rdf:RDF``, or not well-formed afterwards) is replaced by ours.
    """
    new_text = ours.decode("utf-8")
    start = new_text.find("<rdf:Description")
    desc = new_text[start : new_text.find("</rdf:Description>") + len("</rdf:Description>")]
    if not old_packet:
        return ours
    old = old_packet.decode("utf-8", "replace")
    prefixes: dict[str, list[str]] = {}
    for prefix, uri in re.findall(r"xmlns:([\w.-]+)=\"([^\"]*)\"", old):
        prefixes.setdefault(uri, []).append(prefix)
    for uri, local in _xmp_tag_names(desc):
        for p in prefixes.get(uri, []):
            q = re.escape(f"{p}:{local}")
            old = re.sub(rf"\s+{q}=\"[^\"]*\"", "", old)
            old = re.sub(rf"\s*(?:<{q}(?:\s[^>]*)?/>|<{q}(?:\s[^>]*)?>.*?</{q}>)", "", old, flags=re.DOTALL)
    # A description left with nothing but namespace declarations says nothing: drop it.
    empty = r"\s*<rdf:Description(?:\s+(?:xmlns:[\w.-]+|rdf:about)=\"[^\"]*\")*\s*(?:/>|>\s*</rdf:Description>)"
    old = re.sub(empty, "", old)
    m = re.search(r"<rdf:RDF\b[^>]*>", old)
    if m is None:
        return ours
    merged = old[: m.end()] + "\n  " + desc + old[m.end() :]
    start, end = merged.find("<x:xmpmeta"), merged.find("</x:xmpmeta>")
    try:
        ET.fromstring(merged[start : end + len("</x:xmpmeta>")] if 0 <= start < end else merged)
    except ET.ParseError:
        return ours
    return merged.encode("utf-8")


def retag_jpeg(src, dst, meta: PhotoMeta) -> Path:
    """Copy the JPEG ``src`` to ``dst`` with new geotags; the compressed image data is copied byte for byte.

    Written from ``meta``: the EXIF GPS IFD (``lat``/``lon``, ``alt`` as GPSAltitude with its Ref,
    ``gps_time`` (else ``time``) as GPSDateStamp/GPSTimeStamp, all replacing the old GPS IFD) and the
    orientation XMP of :func:`build_xmp` (``drone-dji:`` gimbal/flight angles and altitudes for DJI and
    Hasselblad makes, ``Camera:Yaw/Pitch/Roll`` always), merged into the photo's own XMP. The rest of
    the EXIF, including ``DateTimeOriginal``, stays as the camera wrote it. Segments are spliced
    (no decode/re-encode, so no generation loss); ``dst`` is written atomically and may equal ``src``.
    :func:`read_photo_meta` on ``dst`` returns the values written (angles to 0.01 degree in DJI tags,
    1e-6 in ``Camera:`` tags, altitude to 1 mm, GPS time to 1 ms).

    Raises :class:`InputError` when ``src`` is missing, not a JPEG, or damaged before its first scan.
    """
    src, dst = Path(src), Path(dst)
    try:
        data = src.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read photo {src}: {exc.strerror or exc}") from None
    segments, scan = _jpeg_header_segments(data, src)
    old_exif = next((s[4 + len(_EXIF_HEADER) :] for m, s in segments if m == _APP1 and s[4:10] == _EXIF_HEADER), None)
    old_xmp = next((s[4 + len(_XMP_HEADER) :] for m, s in segments if m == _APP1 and s[4:33] == _XMP_HEADER), None)
    kept = [(m, s) for m, s in segments if not (m == _APP1 and (s[4:10] == _EXIF_HEADER or s[4:33] == _XMP_HEADER))]
    xmp_meta = replace(meta, band=None)  # a JPEG carries no band calibration
    new = [_segment(_APP1, _EXIF_HEADER + _retag_exif(old_exif, meta)[len(_EXIF_HEADER) :], src),
           _segment(_APP1, _XMP_HEADER + _merge_xmp(old_xmp, build_xmp(xmp_meta)), src)]  # fmt: skip
    # JFIF/JFXX APP0 segments stay first (JFIF requires it); EXIF and XMP follow, then the rest as it was.
    app0 = [s for m, s in kept if m == _APP0]
    rest = [s for m, s in kept if m != _APP0]
    out = b"\xff\xd8" + b"".join(app0 + new + rest) + data[scan:]
    with atomic_path(dst, suffix=dst.suffix or ".jpg") as tmp:
        tmp.write_bytes(out)
    return dst
