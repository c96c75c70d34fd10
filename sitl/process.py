"""Run the SITL as a real subprocess (``python -m sitl``) from Python: tests, benchmarks, the demo.

>>> with SitlProcess(speedup=50, log_dir=tmp_path) as sitl:       # doctest: +SKIP
...     conn = mavutil.mavlink_connection(sitl.connection_string())
...     ...
>>> sitl.tlog_path                                                # doctest: +SKIP

Ports default to 0 (any free port): the real ones are read from the process's
``skyscan-sitl listening ...`` lines, so parallel runs never collide.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from sitl.options import Endpoint
from sitl.server import READY_PREFIX
from skyscan.errors import LinkError, LinkTimeout

__all__ = ["SitlProcess"]

_ROOT = Path(__file__).resolve().parents[1]  # the folder holding the sitl package


class SitlProcess:
    """A ``python -m sitl`` child process; a context manager that stops it with SIGTERM on exit.

    ``home`` is (lat, lon[, alt[, heading]]); ``listen`` the endpoints to serve (default one TCP port,
    chosen by the system); ``args`` extra command-line arguments (e.g. ``["--param", "BATT_CAPACITY=50"]``).
    After start, ``endpoints`` holds the bound endpoints and ``tlog_path`` the log being written.
    """

    def __init__(self, home: tuple[float, ...] | None = None, speedup: float = 1.0,
                 listen: list[str] | None = None, log_dir: str | os.PathLike | None = None,
                 args: list[str] | None = None, startup_timeout: float = 20.0, python: str | None = None,
                 stop_timeout: float = 10.0):
        self.home = home
        self.speedup = speedup
        self.listen = listen or ["tcp:127.0.0.1:0"]
        self.log_dir = Path(log_dir) if log_dir is not None else None
        self.args = list(args or [])
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout  # the simulated camera finishes its photos after SIGTERM
        self.python = python or sys.executable
        self.proc: subprocess.Popen | None = None
        self.endpoints: list[Endpoint] = []
        self.tlog_path: Path | None = None
        self.returncode: int | None = None
        self._stdout_tail: list[str] = []
        self._reader: threading.Thread | None = None

    def command(self) -> list[str]:
        """The command line that starts the SITL."""
        cmd = [self.python, "-m", "sitl", "--speedup", repr(float(self.speedup))]
        if self.home is not None:
            cmd.append("--home=" + ",".join(repr(float(v)) for v in self.home))
        for ep in self.listen:
            cmd += ["--listen", ep]
        if self.log_dir is not None:
            cmd += ["--log-dir", str(self.log_dir)]
        return cmd + self.args

    def start(self) -> SitlProcess:
        """Start the process and wait (``startup_timeout``) until it reports where it listens."""
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_ROOT), env.get("PYTHONPATH", "")) if p)
        env["PYTHONUNBUFFERED"] = "1"
        stderr_path = (self.log_dir or Path.cwd()) / f"sitl-stderr-{os.getpid()}-{id(self)}.log"
        stderr_path.parent.mkdir(parents=True, exist_ok=True)
        self._stderr = open(stderr_path, "w")  # noqa: SIM115 - closed in stop()
        self.stderr_path = stderr_path
        # Its own process group, so that stopping it also stops the camera's render workers.
        self.proc = subprocess.Popen(self.command(), stdout=subprocess.PIPE, stderr=self._stderr, text=True, env=env,
                                     start_new_session=True)
        deadline = time.monotonic() + self.startup_timeout
        lines: list[str] = []
        done = threading.Event()

        def read() -> None:
            # Reads the start-up lines, then keeps draining stdout so the child never blocks on a full pipe.
            assert self.proc is not None and self.proc.stdout is not None
            for line in self.proc.stdout:
                if not done.is_set():
                    lines.append(line.rstrip("\n"))
                    if line.startswith("skyscan-sitl logs"):
                        done.set()
                else:
                    self._stdout_tail = ([*self._stdout_tail, line])[-50:]
            done.set()

        self._reader = threading.Thread(target=read, name="sitl-stdout", daemon=True)
        self._reader.start()
        done.wait(max(0.0, deadline - time.monotonic()))
        for line in lines:
            if line.startswith(READY_PREFIX):
                scheme, host_port = line[len(READY_PREFIX):].strip().split(":", 1)
                host, port = host_port.rsplit(":", 1)
                self.endpoints.append(Endpoint(scheme, host, int(port)))
            elif line.startswith("skyscan-sitl logs"):
                self.tlog_path = Path(line.split(" ", 2)[2])
        if self.tlog_path is None:
            rc = self.proc.poll()
            self.stop()
            detail = stderr_path.read_text(errors="replace").strip().splitlines()[-3:]
            if rc is None:
                raise LinkTimeout(f"SITL did not start within {self.startup_timeout:.0f} s: {' | '.join(detail)}")
            raise LinkError(f"SITL exited with status {rc}: {' | '.join(detail)}")
        return self

    def endpoint(self, scheme: str = "tcp") -> Endpoint:
        """The first bound endpoint of ``scheme``."""
        for ep in self.endpoints:
            if ep.scheme == scheme:
                return ep
        raise LinkError(f"the SITL has no {scheme} endpoint (it has {', '.join(map(str, self.endpoints))})")

    def connection_string(self, scheme: str = "tcp") -> str:
        """A pymavlink connection string for the first ``scheme`` endpoint ('tcp:H:P' or 'udpout:H:P')."""
        ep = self.endpoint(scheme)
        return f"tcp:{ep.host}:{ep.port}" if scheme == "tcp" else f"udpout:{ep.host}:{ep.port}"

    def stop(self, timeout: float | None = None) -> int | None:
        """SIGTERM and wait (``timeout``, default ``stop_timeout``: the simulated camera writes its last
        photos after SIGTERM); then SIGKILL the whole process group. Returns the exit status."""
        proc = self.proc
        if proc is None:
            return self.returncode
        timeout = self.stop_timeout if timeout is None else timeout
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10.0)
        with contextlib.suppress(ProcessLookupError):  # render workers left behind by a crash
            os.killpg(proc.pid, signal.SIGKILL)
        self.returncode = proc.returncode
        if self._reader is not None:
            self._reader.join(10.0)
        # Closing a pipe that the reader thread still blocks on would deadlock on the buffer lock.
        if proc.stdout is not None and (self._reader is None or not self._reader.is_alive()):
            proc.stdout.close()
        self._stderr.close()
        self.proc = None
        return self.returncode

    @property
    def stderr_text(self) -> str:
        """What the process wrote on stderr (status lines, the stop summary)."""
        return self.stderr_path.read_text(errors="replace")

    def __enter__(self) -> SitlProcess:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
