"""Photo metadata: write/read round trips, the tag forms other tools need, and real files."""

from __future__ import annotations

import struct
from dataclasses import replace
from datetime import UTC, datetime

import numpy as np
import pytest

from sensors.photo import (
    BandMeta,
    PhotoMeta,
    _jpeg_header_segments,
    parse_xmp,
    read_photo_meta,
    retag_jpeg,
    write_band_tiff,
    write_jpeg,
)
from skyscan.errors import InputError

T0 = datetime(2026, 5, 17, 9, 41, 27, 345000, tzinfo=UTC)


def dji_meta(**kw) -> PhotoMeta:
    base = dict(
        make="DJI", model="M3E", time=T0, lat=-35.36312345, lon=149.16521234, alt=612.347, rel_alt=99.87,
        focal_length_mm=12.29, focal_length_35mm=24, exposure_s=0.001, iso=100,
        gimbal_pitch=-89.87, gimbal_roll=0.12, gimbal_yaw=-171.44, flight_pitch=-4.32, flight_roll=1.27,
        flight_yaw=-171.06, camera_yaw=188.56, camera_pitch=0.13, camera_roll=0.12,
    )  # fmt: skip
    base.update(kw)
    return PhotoMeta(**base)


def _gps_entries(jpeg: bytes) -> dict[int, tuple[int, int]]:
    """GPS IFD entries {tag: (type, count)} straight from the bytes (what other readers see)."""
    t = jpeg[jpeg.find(b"Exif\x00\x00") + 6 :]
    end = "<" if t[:2] == b"II" else ">"

    def entries(off):
        n = struct.unpack(end + "H", t[off : off + 2])[0]
        return [struct.unpack(end + "HHII", t[off + 2 + 12 * k : off + 14 + 12 * k]) for k in range(n)]

    ifd0 = entries(struct.unpack(end + "I", t[4:8])[0])
    gps_off = next(e[3] for e in ifd0 if e[0] == 0x8825)
    return {tag: (typ, count) for tag, typ, count, _ in entries(gps_off)}


def test_jpeg_round_trip(tmp_path):
    meta = dji_meta()
    rgb = np.random.default_rng(0).integers(0, 255, (60, 80, 3), dtype=np.uint8)
    path = write_jpeg(tmp_path / "IMG_0001.JPG", rgb, meta)
    got = read_photo_meta(path)
    assert (got.make, got.model, got.width, got.height) == ("DJI", "M3E", 80, 60)
    assert got.lat == pytest.approx(meta.lat, abs=1e-7) and got.lon == pytest.approx(meta.lon, abs=1e-7)
    assert got.alt == pytest.approx(meta.alt, abs=1e-3) and got.rel_alt == pytest.approx(meta.rel_alt, abs=0.01)
    for name in ("gimbal_pitch", "gimbal_roll", "gimbal_yaw", "flight_pitch", "flight_roll", "flight_yaw",
                 "camera_yaw", "camera_pitch", "camera_roll"):  # fmt: skip
        assert getattr(got, name) == pytest.approx(getattr(meta, name), abs=0.01), name
    assert got.time == T0.replace(microsecond=345000) and got.gps_time == T0
    assert got.focal_length_mm == pytest.approx(12.29) and got.focal_length_35mm == 24
    assert got.problems == () and got.require_position() == (got.lat, got.lon)
    assert list(tmp_path.iterdir()) == [path]  # nothing left beside it (atomic write)


def test_gps_tags_have_the_types_other_tools_expect(tmp_path):
    path = write_jpeg(tmp_path / "a.jpg", np.zeros((8, 8, 3), np.uint8), dji_meta(alt=-12.5, lat=51.5, lon=-0.12))
    entries = _gps_entries(path.read_bytes())
    assert entries[5] == (1, 1)  # GPSAltitudeRef: one BYTE (QGC#6800 wrote ASCII)
    assert entries[0] == (1, 4)  # GPSVersionID
    assert entries[2][0] == 5 and entries[4][0] == 5 and entries[7][0] == 5  # RATIONALs
    got = read_photo_meta(path)
    assert got.alt == pytest.approx(-12.5) and got.lon == pytest.approx(-0.12)


def test_xmp_carries_dji_and_pix4d_tags_as_odm_reads_them(tmp_path):
    path = write_jpeg(tmp_path / "a.jpg", np.zeros((8, 8, 3), np.uint8), dji_meta())
    tags = parse_xmp(path.read_bytes())
    # ODM keys on '@drone-dji:...' attributes and 'Camera:...' elements (opendm/photo.py).
    assert tags["drone-dji:GimbalPitchDegree"] == "-89.87"
    assert tags["drone-dji:AbsoluteAltitude"] == "+612.35"
    assert float(tags["Camera:Pitch"]) == pytest.approx(0.13)
    got = read_photo_meta(path)
    assert got.odm_ypr() == (pytest.approx(-171.06), pytest.approx(0.13), pytest.approx(0.12))


def test_no_dji_tags_for_other_makes(tmp_path):
    """ODM would read drone-dji pitch -90 without adding 90 for a non-DJI make: only Camera: tags."""
    meta = dji_meta(make="skyscan", model="QGC default", camera_yaw=None, camera_pitch=None, camera_roll=None)
    path = write_jpeg(tmp_path / "a.jpg", np.zeros((8, 8, 3), np.uint8), meta)
    tags = parse_xmp(path.read_bytes())
    assert not any(k.startswith("drone-dji:") for k in tags)
    got = read_photo_meta(path)
    assert got.camera_pitch == pytest.approx(0.13, abs=0.01)  # 90 + gimbal pitch
    assert got.gimbal_pitch == pytest.approx(-89.87, abs=0.01)  # derived back from Camera:Pitch


def test_band_tiff_round_trip(tmp_path):
    band = BandMeta(
        name="Red edge", center_nm=717, fwhm_nm=10, rig_index=3, capture_id="cap-42", black_level=4800,
        radiometric_calibration=(2.8e-4, 0.0, 0.0), vignetting_center=(728.0, 544.0),
        vignetting_polynomial=(0.0, -3.2e-7, 0, 0, 0, 0), rig_relatives=(0.11, -0.07, 0.2),
        rig_translations=(0.02, 0.0, 0.0), irradiance=1.05, principal_point_mm=(2.51, 1.88),
        focal_length_mm=5.5, focal_plane_px_per_mm=289.87,
    )  # fmt: skip
    meta = dji_meta(make="MicaSense", model="RedEdge-P", band=band, camera_yaw=12.0, camera_pitch=1.0, camera_roll=0.5)
    img = np.random.default_rng(1).integers(4800, 60000, (36, 48), dtype=np.uint16)
    path = write_band_tiff(tmp_path / "IMG_0001_4.tif", img, meta)
    got = read_photo_meta(path)
    from PIL import Image

    assert np.array_equal(np.array(Image.open(path)), img)
    assert got.band_name == "Red edge" and got.bits_per_sample == 16
    b = got.band
    assert (b.center_nm, b.fwhm_nm, b.rig_index, b.capture_id, b.black_level) == (717, 10, 3, "cap-42", 4800)
    assert b.radiometric_calibration == pytest.approx(band.radiometric_calibration)
    assert b.vignetting_polynomial == pytest.approx(band.vignetting_polynomial)
    assert b.rig_relatives == pytest.approx(band.rig_relatives) and b.irradiance == pytest.approx(1.05)
    assert b.focal_length_mm == pytest.approx(5.5) and b.focal_plane_px_per_mm == pytest.approx(289.87, rel=1e-6)
    assert got.lat == pytest.approx(meta.lat, abs=1e-7) and got.exposure_s == pytest.approx(0.001)
    assert got.camera_yaw == pytest.approx(12.0) and got.iso == 100


def test_photo_without_exif_says_why(tmp_path):
    from PIL import Image

    path = tmp_path / "plain.jpg"
    Image.fromarray(np.zeros((10, 10, 3), np.uint8)).save(path)
    got = read_photo_meta(path)
    assert not got.has_position and "no EXIF data" in got.problems and "no GPS data in EXIF" in got.problems
    with pytest.raises(InputError, match=r"no usable GPS position .*no GPS data"):
        got.require_position()


def test_not_an_image_is_an_input_error(tmp_path):
    bad = tmp_path / "notes.jpg"
    bad.write_text("hello")
    with pytest.raises(InputError, match="not a readable image"):
        read_photo_meta(bad)
    with pytest.raises(InputError, match="not found"):
        read_photo_meta(tmp_path / "missing.jpg")


def test_zero_zero_position_is_not_trusted(tmp_path):
    path = write_jpeg(tmp_path / "a.jpg", np.zeros((8, 8, 3), np.uint8), dji_meta(lat=0.0, lon=0.0))
    got = read_photo_meta(path)
    assert not got.has_position and any("(0, 0)" in p for p in got.problems)


def test_write_rejects_wrong_arrays(tmp_path):
    with pytest.raises(InputError):
        write_jpeg(tmp_path / "a.jpg", np.zeros((8, 8), np.uint8), dji_meta())
    with pytest.raises(InputError):
        write_band_tiff(tmp_path / "a.tif", np.zeros((8, 8), np.float32), dji_meta())


# -- real files -----------------------------------------------------------------------------------
def test_real_dji_mini2_survey_photo(shared_data):
    folder = shared_data / "survey_photos" / "dji_mini2_nottingham_rdslauder"
    metas = [read_photo_meta(p) for p in sorted(folder.glob("DJI_*.JPG"))]
    assert len(metas) == 16 and all(m.problems == () for m in metas)
    m = metas[0]
    assert (m.make, m.model, m.width, m.height) == ("DJI", "FC7303", 4000, 2250)
    assert m.lat == pytest.approx(52.95322, abs=1e-5) and m.lon == pytest.approx(-1.32524, abs=1e-5)
    assert m.alt == pytest.approx(307.636) and m.rel_alt == pytest.approx(107.7)
    assert m.gimbal_pitch == 0.0  # the recorded quirk: nadir photos that claim a level gimbal
    assert m.flight_yaw == pytest.approx(174.4) and m.focal_length_mm == pytest.approx(4.49)
    assert m.time == datetime(2023, 3, 22, 12, 24, 21)
    assert all(52.95 < x.lat < 52.955 and -1.326 < x.lon < -1.324 for x in metas)


def test_real_dji_oblique_photo(shared_data):
    m = read_photo_meta(shared_data / "oblique" / "dji_mini2_cerro_macuil" / "Area2.JPG")
    assert m.gimbal_pitch == pytest.approx(-54.80) and m.gimbal_yaw == pytest.approx(-91.71)
    assert m.flight_yaw == pytest.approx(-94.40) and m.alt == pytest.approx(1779.267, abs=1e-3)
    assert m.odm_ypr()[1] == pytest.approx(35.2)  # ODM: 90 + DJI pitch
    up = read_photo_meta(shared_data / "oblique" / "dji_mini2_cerro_macuil" / "Aerea1.JPG")
    assert up.gimbal_pitch == pytest.approx(14.87)


def test_real_webodm_fixture_with_pix4d_camera_tags(shared_data):
    m = read_photo_meta(shared_data / "survey_photos" / "webodm_fixtures" / "tiny_drone_image.jpg")
    assert (m.make, m.width, m.height) == ("Canon", 48, 36)
    assert m.camera_yaw == pytest.approx(274.9312, abs=1e-4) and m.camera_pitch == pytest.approx(2.36006, abs=1e-4)
    assert m.camera_roll == pytest.approx(6.6989, abs=1e-4) and m.gps_xy_accuracy == pytest.approx(5.028, abs=1e-3)
    assert m.band_names == ("Red", "Green", "Blue") and m.band is None
    assert m.lat == pytest.approx(41.22637, abs=1e-5) and m.lon < 0


def test_real_micasense_bands(shared_data):
    folder = shared_data / "multispectral"
    blue = read_photo_meta(folder / "micasense_rededge_0000SET" / "IMG_0001_1.tif")
    assert (blue.make, blue.model, blue.band_name, blue.band.center_nm) == ("MicaSense", "RedEdge", "Blue", 475)
    assert blue.band.black_level == 4800 and blue.bits_per_sample == 16
    assert blue.band.radiometric_calibration == pytest.approx((1.4648541e-4, 1.1794107e-7, 1.3974331e-6), rel=1e-6)
    assert blue.band.vignetting_center == pytest.approx((676.70297, 480.44509))
    assert len(blue.band.vignetting_polynomial) == 6 and blue.band.rig_index == 0
    assert blue.band.capture_id == "g2R43Qr5m7EeTFGbkh1W" and blue.iso == 100
    assert blue.lat == pytest.approx(36.5760815, abs=1e-6) and blue.alt == pytest.approx(174.527)
    # The file name says band 1, the metadata says Green: trust the metadata.
    green = read_photo_meta(folder / "micasense_rededge_0001SET" / "IMG_0003_1.tif")
    assert (green.band_name, green.band.center_nm, green.band.rig_index) == ("Green", 560, 1)
    assert green.camera_pitch == pytest.approx(19.2321, abs=1e-4)
    tiny = read_photo_meta(folder / "webodm_fixtures" / "tiny_drone_image_multispec.tif")
    assert tiny.band_name == "Blue" and tiny.band.radiometric_calibration[0] == pytest.approx(1.4568e-4, rel=1e-4)
    assert tiny.band.vignetting_center == pytest.approx((542.73636, 483.77114))


def test_real_photo_with_stripped_xmp(shared_data):
    folder = shared_data / "survey_photos" / "dronetm_agung1_faulty_images"
    path = folder / "DJI_20251001132715_0396_D_POOR_SHARPNESS.JPG"
    m = read_photo_meta(path)
    assert m.has_position and m.gimbal_pitch is None and m.alt is None
    assert m.problems == ("no GPS altitude",)


# -- retag_jpeg: new geotags in a copy, image data untouched ----------------------------------------
def _scan(path) -> bytes:
    """The compressed image from its first scan on (the EXIF may hold a thumbnail with its own scan)."""
    data = path.read_bytes()
    return data[_jpeg_header_segments(data, path)[1] :]


def test_retag_round_trip_keeps_image_and_camera_tags(tmp_path):
    rgb = np.random.default_rng(1).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    src = write_jpeg(tmp_path / "src.jpg", rgb, PhotoMeta(make="DJI", model="M3E", time=T0, focal_length_mm=12.29))
    before = src.read_bytes()
    new = dji_meta(time=None, gps_time=T0, lat=-35.3629876543, lon=149.1651234567, alt=623.456, rel_alt=39.5,
                   camera_yaw=268.123456, camera_pitch=0.5, camera_roll=-0.25)  # fmt: skip
    dst = retag_jpeg(src, tmp_path / "out" / "dst.jpg", new)
    assert src.read_bytes() == before and _scan(dst) == _scan(src)  # original untouched, scan copied verbatim
    got = read_photo_meta(dst)
    assert got.lat == pytest.approx(new.lat, abs=1e-10) and got.lon == pytest.approx(new.lon, abs=1e-10)
    assert got.alt == pytest.approx(623.456, abs=1e-3) and got.gps_time == T0
    assert (got.camera_yaw, got.camera_pitch, got.camera_roll) == (268.123456, 0.5, -0.25)
    for name in ("gimbal_pitch", "gimbal_yaw", "flight_yaw", "flight_pitch", "rel_alt"):
        assert getattr(got, name) == pytest.approx(getattr(new, name), abs=0.005), name
    # The camera's own tags stay: make, model, capture time (its clock), focal length.
    assert (got.make, got.model, got.time, got.focal_length_mm) == ("DJI", "M3E", T0, pytest.approx(12.29))
    assert got.problems == ()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["dst.jpg"]


def test_retag_replaces_old_tags_and_keeps_foreign_xmp(tmp_path):
    src = write_jpeg(tmp_path / "a.jpg", np.zeros((16, 16, 3), np.uint8), dji_meta())
    once = retag_jpeg(src, tmp_path / "b.jpg", dji_meta(lat=10.5, lon=20.25, gimbal_yaw=12.0, camera_yaw=12.0))
    twice = retag_jpeg(once, once, dji_meta(lat=11.5, lon=21.25, gimbal_yaw=13.0, camera_yaw=13.0))  # in place
    data = twice.read_bytes()
    assert data.count(b"Exif\x00\x00") == 1 and data.count(b"<x:xmpmeta") == 1
    assert data.count(b"GimbalYawDegree") == 1 and data.count(b"<Camera:Yaw>") == 1
    got = read_photo_meta(twice)
    assert (got.lat, got.lon, got.gimbal_yaw, got.camera_yaw) == (pytest.approx(11.5), pytest.approx(21.25), 13.0, 13.0)
    # Tags we do not write survive: give the photo's own packet a foreign attribute (same length, so
    # the segment length stays valid) and retag it.
    foreign = tmp_path / "c.jpg"
    assert data.count(b'rdf:about="skyscan"') == 1
    foreign.write_bytes(data.replace(b'rdf:about="skyscan"', b'drone-dji:RtkFl="5"'))
    assert parse_xmp(foreign.read_bytes())["drone-dji:RtkFl"] == "5"
    out = retag_jpeg(foreign, tmp_path / "d.jpg", dji_meta(camera_yaw=1.0)).read_bytes()
    tags = parse_xmp(out)
    assert tags["drone-dji:RtkFl"] == "5" and tags["Camera:Yaw"] == "1.000000" and out.count(b"<Camera:Yaw>") == 1


def test_retag_real_photos_keep_their_own_tags(shared_data, tmp_path):
    src = shared_data / "survey_photos" / "webodm_fixtures" / "tiny_drone_image.jpg"
    old = read_photo_meta(src)
    dst = retag_jpeg(src, tmp_path / "t.jpg", replace(old, lat=41.5, lon=-8.25, alt=120.0, camera_yaw=90.0,
                                                      camera_pitch=1.0, camera_roll=2.0))  # fmt: skip
    got = read_photo_meta(dst)
    assert (got.lat, got.lon, got.alt) == (pytest.approx(41.5), pytest.approx(-8.25), pytest.approx(120.0))
    assert (got.camera_yaw, got.camera_pitch, got.camera_roll) == (90.0, 1.0, 2.0)
    assert got.band_names == old.band_names and got.gps_xy_accuracy == pytest.approx(old.gps_xy_accuracy, abs=1e-3)
    assert got.make == "Canon" and _scan(dst) == _scan(src)
    # A real DJI frame: its gimbal quirk (+0.00 on a nadir photo) is replaced, its other XMP kept.
    dji = shared_data / "survey_photos" / "dji_mini2_nottingham_rdslauder" / "DJI_0753.JPG"
    old = read_photo_meta(dji)
    dst = retag_jpeg(dji, tmp_path / "DJI_0753.JPG", replace(old, gimbal_pitch=-90.0, camera_pitch=0.0,
                                                           camera_yaw=174.4, camera_roll=0.0))  # fmt: skip
    got, tags = read_photo_meta(dst), parse_xmp(dst.read_bytes())
    assert got.gimbal_pitch == -90.0 and got.odm_ypr() == (174.4, 0.0, 0.0)
    assert tags["drone-dji:CamReverse"] == "0" and tags["crs:Version"] == "7.0" and tags["tiff:Model"] == "FC7303"
    assert got.lat == pytest.approx(old.lat, abs=1e-9) and got.lon == pytest.approx(old.lon, abs=1e-9)
    assert got.time == old.time and got.alt == pytest.approx(old.alt, abs=1e-3)
    assert _scan(dst) == _scan(dji)


def test_retag_refuses_non_jpeg(tmp_path):
    tif = write_band_tiff(tmp_path / "b.tif", np.zeros((8, 8), np.uint16), dji_meta())
    with pytest.raises(InputError, match="not a JPEG"):
        retag_jpeg(tif, tmp_path / "x.jpg", dji_meta())
    with pytest.raises(InputError, match="cannot read"):
        retag_jpeg(tmp_path / "missing.jpg", tmp_path / "x.jpg", dji_meta())
    assert not (tmp_path / "x.jpg").exists()
