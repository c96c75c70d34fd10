"""Headless Chromium for tests of HTML pages: the DOM after the page's scripts ran.

:func:`render_dom` opens a local file in a real browser (no network, a throw-away profile) and returns
the serialised DOM, so a test sees what Leaflet built, not only the HTML it was given. Tests that need
it use the :func:`chromium` fixture (or the :data:`needs_chromium` marker), which skip with the reason
when no Chromium is installed (CI installs the Debian package in ``.ci/run``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

__all__ = ["chromium", "chromium_path", "needs_chromium", "render_dom"]

_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def chromium_path() -> str | None:
    """The Chromium executable ($SKYSCAN_CHROMIUM, else the first browser on PATH), or None."""
    env = os.environ.get("SKYSCAN_CHROMIUM")
    if env:
        return env if Path(env).is_file() else None
    return next((p for p in map(shutil.which, _CANDIDATES) if p), None)


needs_chromium = pytest.mark.skipif(chromium_path() is None,
                                    reason="Chromium not installed (apt-get install chromium, or set SKYSCAN_CHROMIUM)")


@pytest.fixture(scope="session")
def chromium() -> str:
    """Path of the Chromium executable; skips the test when there is none."""
    path = chromium_path()
    if path is None:
        pytest.skip("Chromium not installed (apt-get install chromium, or set SKYSCAN_CHROMIUM)")
    return path


def render_dom(html_path: str | os.PathLike, timeout: float = 60.0, budget_ms: int = 5000,
               browser: str | None = None) -> str:
    """The DOM of ``html_path`` after its scripts ran, from headless Chromium (``--dump-dom``).

    ``budget_ms`` is Chromium's virtual time budget: timers and layout run that far in virtual time
    before the dump. Raises ``RuntimeError`` with Chromium's stderr when it fails or times out.
    """
    exe = browser or chromium_path()
    if exe is None:
        raise RuntimeError("Chromium not found; install it (apt-get install chromium) or set SKYSCAN_CHROMIUM")
    url = Path(html_path).resolve().as_uri()
    with tempfile.TemporaryDirectory(prefix="skyscan-chromium-") as profile:
        cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--disable-dev-shm-usage", f"--user-data-dir={profile}", f"--virtual-time-budget={budget_ms}",
               "--dump-dom", url]
        # Its own session, so a timeout kills the renderer and GPU helper processes too.
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                                env={**os.environ, "HOME": profile})
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            out, err = proc.communicate()
            raise RuntimeError(f"Chromium did not finish {url} within {timeout} s: "
                               f"{err.decode('utf-8', 'replace')[-2000:]}") from None
    dom = out.decode("utf-8", "replace")
    if proc.returncode != 0 or "<html" not in dom:
        raise RuntimeError(f"Chromium failed on {url} (exit {proc.returncode}): "
                           f"{err.decode('utf-8', 'replace')[-2000:]}")
    return dom
