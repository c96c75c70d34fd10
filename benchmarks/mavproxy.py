"""Drive MAVProxy (1.8.75, installed ``--no-deps``) headless as a real child process.

Used by the interop tests (tests/interop/) and the link benchmark (benchmarks/link.py). Two ways to
drive it, both found to work on loopback against skyscan's SITL:

* ``commands=[...]`` with ``interactive=False``: ``--non-interactive --cmd='a; b'``. MAVProxy runs the
  commands at start-up, *before* it has heard the vehicle (fine for ``wp load`` / ``wp save`` with
  ``--target-system``/``--target-component`` pinned), and never exits: stop it with :meth:`MavProxy.stop`.
* ``interactive=True``: commands are written to its stdin one at a time with :meth:`MavProxy.send`,
  after waiting for what it printed (:meth:`MavProxy.wait_for`); needed when a command must wait for
  the vehicle (arming after the EKF is ready, ``wp save`` after ``wp list`` finished).

MAVProxy always connects *out* (``udpout:``/``tcp:``): with ``udpin:`` it cannot send a command before it
has heard a packet. Every output line is kept with the monotonic time it was read; stdout is unbuffered
(``PYTHONUNBUFFERED``) so the times are those of the prints. The child runs in its own process group,
with ``HOME`` and the working directory in a scratch folder (no ``~/.mavinit.scr``, no state files),
and :meth:`MavProxy.stop` terminates the whole group (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

__all__ = [
    "DEFAULT_MODULES",
    "MISSION_ACK_RE",
    "WP_LIST_RE",
    "MavProxy",
    "MavProxyError",
    "mavproxy_command",
    "mavproxy_version",
]

#: Modules loaded instead of MAVProxy's defaults (which pull in GUI-only ones): just what the links need.
DEFAULT_MODULES = ("wp", "link", "mode", "arm", "param")
#: "Got MISSION_ACK: TYPE_MISSION: ACCEPTED" (link module) -> group 1 = mission type, group 2 = result.
MISSION_ACK_RE = re.compile(r"Got MISSION_ACK: TYPE_(\w+): (\w+)")
#: One item of ``wp list`` (MAVProxy prints lat/lon with 10 decimals, params with 1):
#: command frame lat lon alt p1= p2= p3= p4= cur= auto=
WP_LIST_RE = re.compile(
    r"(?P<command>\d+) (?P<frame>\d+) (?P<x>-?\d+\.\d{10}) (?P<y>-?\d+\.\d{10}) (?P<z>\S+) "
    r"p1=(?P<p1>\S+) p2=(?P<p2>\S+) p3=(?P<p3>\S+) p4=(?P<p4>\S+) cur=(?P<cur>\d+) auto=(?P<auto>\d+)")


class MavProxyError(RuntimeError):
    """MAVProxy could not be started, or did not print what was awaited in time."""


def mavproxy_command() -> list[str] | None:
    """How to start MAVProxy with this interpreter, or None when it is not installed.

    Prefers the ``mavproxy.py`` script installed beside this Python (what users run), else
    ``python -m MAVProxy.mavproxy``.
    """
    try:
        if importlib.util.find_spec("MAVProxy") is None:
            return None
    except (ImportError, ValueError):  # a broken or blocked installation counts as none
        return None
    script = Path(sys.executable).parent / "mavproxy.py"
    if not script.is_file():
        found = shutil.which("mavproxy.py")
        script = Path(found) if found else None
    if script is not None:
        return [sys.executable, str(script)]
    return [sys.executable, "-m", "MAVProxy.mavproxy"]


def mavproxy_version() -> str:
    """The installed MAVProxy version ('?' when unknown)."""
    try:
        return importlib.metadata.version("MAVProxy")
    except importlib.metadata.PackageNotFoundError:
        return "?"


class MavProxy:
    """One headless MAVProxy process; a context manager that always stops it.

    ``master`` is MAVProxy's ``--master`` (e.g. ``udpout:127.0.0.1:14550``); ``commands`` are run at
    start-up (``--cmd``); with ``interactive`` stdin stays open for :meth:`send`. ``lines`` holds
    ``(monotonic time, text)`` of every output line (stdout and stderr merged); ``started_at`` is the
    monotonic time just before the process was spawned.
    """

    def __init__(self, master: str, *, commands: Sequence[str] = (), interactive: bool = False,
                 modules: Sequence[str] = DEFAULT_MODULES, target_system: int = 1, target_component: int = 1,
                 extra_args: Sequence[str] = (), workdir: str | os.PathLike | None = None):
        self.master = master
        self.commands = list(commands)
        self.interactive = interactive
        self.modules = list(modules)
        self.target = (target_system, target_component)
        self.extra_args = list(extra_args)
        self._own_workdir = workdir is None
        self.workdir = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="mavproxy-"))
        self.proc: subprocess.Popen | None = None
        self.lines: list[tuple[float, str]] = []
        self.started_at = 0.0
        self._cond = threading.Condition()
        self._reader: threading.Thread | None = None
        self._eof = False

    # -- lifecycle -------------------------------------------------------------------------------
    def command_line(self) -> list[str]:
        """The full command line (raises MavProxyError when MAVProxy is not installed)."""
        base = mavproxy_command()
        if base is None:
            raise MavProxyError("MAVProxy is not installed (pip install --no-deps MAVProxy==1.8.75)")
        cmd = [*base, f"--master={self.master}", f"--target-system={self.target[0]}",
               f"--target-component={self.target[1]}", "--no-state", f"--default-modules={','.join(self.modules)}"]
        if not self.interactive:
            cmd.append("--non-interactive")
        if self.commands:
            cmd.append("--cmd=" + "; ".join(self.commands))
        return cmd + self.extra_args

    def start(self) -> MavProxy:
        """Spawn the process and start reading its output."""
        cmd = self.command_line()
        self.workdir.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        env["PYTHONUNBUFFERED"] = "1"
        env["HOME"] = str(self.workdir)  # no user start-up scripts (~/.mavinit.scr), no state written elsewhere
        self.started_at = time.monotonic()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE if self.interactive else subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
                                     cwd=self.workdir, env=env, start_new_session=True)
        self._reader = threading.Thread(target=self._read, name="mavproxy-stdout", daemon=True)
        self._reader.start()
        return self

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for raw in self.proc.stdout:
            now = time.monotonic()
            with self._cond:
                self.lines.append((now, raw.rstrip("\r\n")))
                self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def stop(self, timeout: float = 5.0) -> int | None:
        """Terminate the process group (SIGTERM, then SIGKILL); returns the exit status."""
        proc = self.proc
        if proc is None:
            return None
        if proc.stdin is not None:
            # Interactive: the main thread sits in input(); SIGTERM only flags a stop, EOF lets it see it.
            with contextlib.suppress(OSError):
                proc.stdin.close()
        if proc.poll() is None:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, sig)
                try:
                    proc.wait(timeout)
                    break
                except subprocess.TimeoutExpired:
                    continue
        if self._reader is not None:
            self._reader.join(timeout)
        if proc.stdout is not None:
            proc.stdout.close()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
        return proc.returncode

    def __enter__(self) -> MavProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- talking to it ---------------------------------------------------------------------------
    def send(self, command: str) -> None:
        """Type one command line into an ``interactive`` MAVProxy."""
        if self.proc is None or self.proc.stdin is None:
            raise MavProxyError("MAVProxy was not started with interactive=True")
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()

    @property
    def first_line_at(self) -> float | None:
        """Monotonic time of its first output line (None before it printed anything)."""
        with self._cond:
            return self.lines[0][0] if self.lines else None

    @property
    def output(self) -> str:
        """Everything it printed so far."""
        with self._cond:
            return "\n".join(text for _, text in self.lines)

    def mark(self) -> int:
        """The number of lines read so far: pass it as ``since`` to wait only for later lines."""
        with self._cond:
            return len(self.lines)

    def wait_for(self, pattern: str | re.Pattern[str], timeout: float, *, since: int = 0,
                 raise_on_timeout: bool = True) -> tuple[float, re.Match[str]] | None:
        """The first line from index ``since`` on that matches ``pattern`` (searched, not anchored):
        ``(time it was read, match)``. After ``timeout`` s (or when the process exits first) raise
        MavProxyError with the tail of the output, or return None when ``raise_on_timeout`` is False.
        """
        regex = re.compile(pattern) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout
        index = since
        with self._cond:
            while True:
                while index < len(self.lines):
                    at, text = self.lines[index]
                    index += 1
                    m = regex.search(text)
                    if m:
                        return at, m
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._eof:
                    break
                self._cond.wait(min(remaining, 0.2))
        if not raise_on_timeout:
            return None
        why = "exited" if self._eof else f"printed nothing matching within {timeout:g} s"
        tail = "\n".join(text for _, text in self.lines[-15:])
        raise MavProxyError(f"MAVProxy {why} (waiting for {regex.pattern!r}); last output:\n{tail}")

    def matches(self, pattern: str | re.Pattern[str], *, since: int = 0) -> list[re.Match[str]]:
        """Every output line from ``since`` on that matches ``pattern``."""
        return [m for _, m in self.timed_matches(pattern, since=since)]

    def timed_matches(self, pattern: str | re.Pattern[str], *, since: int = 0) -> list[tuple[float, re.Match[str]]]:
        """``(time read, match)`` of every output line from ``since`` on that matches ``pattern``."""
        regex = re.compile(pattern) if isinstance(pattern, str) else pattern
        with self._cond:
            found = [(at, regex.search(text)) for at, text in self.lines[since:]]
        return [(at, m) for at, m in found if m]
