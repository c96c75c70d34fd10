"""``skyscan cameras``: list the camera catalogue."""

from __future__ import annotations

from rich.table import Table

from sensors.catalog import load_catalog
from skyscan.cli.display import console


def list_cameras() -> None:
    """List the camera catalogue (use the id or the name with --camera)."""
    table = Table(title="skyscan camera catalogue")
    for col in ("id", "name", "sensor mm", "image px", "focal mm", "pitch um", "min interval s", "bands"):
        table.add_column(col)
    for cam in load_catalog().values():
        table.add_row(
            cam.id, cam.name, f"{cam.sensor_width_mm:g} x {cam.sensor_height_mm:g}",
            f"{cam.image_width_px} x {cam.image_height_px}", f"{cam.focal_length_mm:g}",
            f"{cam.pixel_pitch_x_mm * 1000:.2f}", f"{cam.min_trigger_interval_s:g}",
            ", ".join(b.name for b in cam.bands),
        )
    console().print(table)
