"""``skyscan sitl`` (skyscan/cli/sitl.py): the same options and errors as ``python -m sitl``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from sitl.cli_args import build_options
from skyscan.cli import sitl as sitl_cli
from skyscan.errors import InputError

ROOT = Path(__file__).resolve().parents[2]


def standalone() -> typer.Typer:
    app = typer.Typer()
    app.command("sitl")(sitl_cli.run)
    app.command("noop")(lambda: None)  # two commands, so "sitl" stays a subcommand
    return app


def test_bad_home_is_an_input_error():
    result = CliRunner().invoke(standalone(), ["sitl", "--home", "91,10"])
    assert isinstance(result.exception, InputError)
    assert "--home" in str(result.exception)


def test_options_are_parsed_once_for_both_commands(tmp_path):
    opts = build_options(home="-35.1,149.2,600,90", listen=["tcp:127.0.0.1:0", "udp:127.0.0.1:14550"],
                         udp_out=["127.0.0.1:14551"], speedup=20, wind="5@270", seed=3, log_dir=tmp_path,
                         instance=2, params=["wpnav_speed=800"])
    assert (opts.home_lat, opts.home_lon, opts.home_alt, opts.home_heading) == (-35.1, 149.2, 600, 90)
    assert [str(e) for e in opts.endpoints()] == ["tcp:127.0.0.1:0", "udp:127.0.0.1:14570", "udpout:127.0.0.1:14571"]
    assert (opts.wind_speed, opts.wind_from) == (5, 270)
    assert opts.params == {"WPNAV_SPEED": 800}
    with pytest.raises(InputError, match="--mission-request"):
        build_options(home=None, listen=[], udp_out=[], speedup=1, wind=None, seed=0, log_dir=None, instance=0,
                      mission_request="fast")
    with pytest.raises(InputError, match="instance must be 0-100"):
        build_options(home=None, listen=[], udp_out=[], speedup=1, wind=None, seed=0, log_dir=None, instance=9000)
    with pytest.raises(InputError, match="past 65535"):
        build_options(home=None, listen=["tcp:127.0.0.1:65000"], udp_out=[], speedup=1, wind=None, seed=0,
                      log_dir=None, instance=100)


def test_skyscan_sitl_runs_when_registered(tmp_path):
    from skyscan.cli.main import app

    if "sitl" not in {c.name for c in app.registered_commands}:
        pytest.skip("'skyscan sitl' is not registered in skyscan/cli/main.py yet")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "skyscan", "sitl", "--listen", "tcp:127.0.0.1:0", "--log-dir",
                             str(tmp_path), "--speedup", "5"], stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    try:
        assert proc.stdout.readline().startswith("skyscan-sitl listening tcp:127.0.0.1:")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
        proc.stdout.close()
