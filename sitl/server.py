"""The SITL process: sockets, the real-time pacing of simulated time, and a clean stop.

:class:`SitlServer` binds every endpoint (``tcp`` listeners accept any number of clients, each getting
all telemetry; a ``udp`` socket answers every peer that has sent it a packet, like ``udpin``; ``udpout``
sends to a fixed address, like ArduPilot's --out), then runs the simulator ``speedup`` times faster
than the wall clock, or as fast as it can when it cannot keep up. Sockets are non-blocking: a client
that stops reading loses telemetry, the simulation never waits for it.

:func:`run_sitl` is the whole program behind ``python -m sitl`` and ``skyscan sitl``.
"""

from __future__ import annotations

import contextlib
import errno
import importlib
import select
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from typing import IO

from sitl.logs import FlightLogs, default_log_dir
from sitl.mav import mavlink
from sitl.options import Endpoint, SitlOptions
from sitl.outbox import BROADCAST
from sitl.simulator import CameraHook, Simulator
from sitl.terrain import TerrainFn
from skyscan.errors import InputError

__all__ = ["SitlServer", "load_plugins", "run_sitl"]

MAX_PENDING = 4 << 20  # bytes queued for a slow TCP client before its telemetry is dropped
IO_EVERY_STEPS = 5  # poll the sockets at least every this many physics steps when running flat out
READY_PREFIX = "skyscan-sitl listening"


class _Link:
    """One MAVLink peer: its parser and how to send to it."""

    def __init__(self, link_id: int, name: str):
        self.id = link_id
        self.name = name
        self.parser = mavlink.MAVLink(None)
        self.parser.robust_parsing = True

    def parse(self, data: bytes) -> list:
        try:
            return self.parser.parse_buffer(data) or []
        except mavlink.MAVError:
            return []

    def send(self, frame: bytes) -> None:
        raise NotImplementedError


class _TcpLink(_Link):
    def __init__(self, link_id: int, sock: socket.socket, name: str):
        super().__init__(link_id, name)
        self.sock = sock
        self.pending = bytearray()
        self.dropped = 0

    def send(self, frame: bytes) -> None:
        if len(self.pending) > MAX_PENDING:
            self.dropped += 1
            return
        self.pending += frame

    def flush(self) -> bool:
        """Write what the socket takes; False when the peer is gone."""
        if not self.pending:
            return True
        try:
            sent = self.sock.send(self.pending)
        except (BlockingIOError, InterruptedError):
            return True
        except OSError:
            return False
        del self.pending[:sent]
        return True


class _UdpLink(_Link):
    def __init__(self, link_id: int, sock: socket.socket, addr: tuple, name: str):
        super().__init__(link_id, name)
        self.sock = sock
        self.addr = addr

    def send(self, frame: bytes) -> None:
        # A full buffer or an unreachable peer loses the datagram, as on a radio link.
        with contextlib.suppress(OSError):
            self.sock.sendto(frame, self.addr)


class SitlServer:
    """Sockets and pacing around a :class:`~sitl.simulator.Simulator`."""

    def __init__(self, sim: Simulator, options: SitlOptions):
        self.sim = sim
        self.options = options
        self._listeners: dict[socket.socket, Endpoint] = {}  # tcp listen sockets
        self._udp_in: dict[socket.socket, Endpoint] = {}
        self._udp_peers: dict[tuple[socket.socket, tuple], _UdpLink] = {}
        self._tcp: dict[socket.socket, _TcpLink] = {}
        self._udp_out: dict[socket.socket, _UdpLink] = {}
        self._links: dict[int, _Link] = {}
        self._next_id = 0
        self._stop = threading.Event()
        self.bound: list[str] = []
        self.wall_elapsed = 0.0

    # -- sockets ---------------------------------------------------------------------------------
    def open(self) -> list[str]:
        """Bind every endpoint; returns 'scheme:host:port' with the real ports (port 0 resolved)."""
        try:
            for ep in self.options.listen:
                ep = ep.offset(self.options.instance)
                family = socket.AF_INET6 if ":" in ep.host else socket.AF_INET
                if ep.scheme == "tcp":
                    sock = socket.socket(family, socket.SOCK_STREAM)
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    self._bind(sock, ep)
                    sock.listen(8)
                    sock.setblocking(False)
                    self._listeners[sock] = ep
                else:
                    sock = socket.socket(family, socket.SOCK_DGRAM)
                    self._bind(sock, ep)
                    sock.setblocking(False)
                    self._udp_in[sock] = ep
                host, port = sock.getsockname()[:2]
                self.bound.append(f"{ep.scheme}:{host}:{port}")
            for ep in self.options.udp_out:
                ep = ep.offset(self.options.instance)
                family = socket.AF_INET6 if ":" in ep.host else socket.AF_INET
                sock = socket.socket(family, socket.SOCK_DGRAM)
                sock.setblocking(False)
                link = _UdpLink(self._new_id(), sock, (ep.host, ep.port), f"udpout:{ep.host}:{ep.port}")
                self._udp_out[sock] = link
                self._links[link.id] = link
                self.bound.append(f"udpout:{ep.host}:{ep.port}")
        except BaseException:
            self.close()
            raise
        return list(self.bound)

    @staticmethod
    def _bind(sock: socket.socket, ep: Endpoint) -> None:
        try:
            sock.bind((ep.host, ep.port))
        except OSError as exc:
            sock.close()
            if exc.errno == errno.EADDRINUSE:
                raise InputError(f"--listen {ep}: port {ep.port} is in use; choose another port (0 = any free one) "
                                 f"or another -I instance") from None
            raise InputError(f"--listen {ep}: cannot bind ({exc.strerror}); use a local address such as "
                             f"127.0.0.1") from None

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def close(self) -> None:
        """Close every socket (idempotent)."""
        for sock in [*self._listeners, *self._udp_in, *self._tcp, *self._udp_out]:
            with contextlib.suppress(OSError):
                sock.close()
        self._listeners.clear()
        self._udp_in.clear()
        self._tcp.clear()
        self._udp_out.clear()
        self._udp_peers.clear()
        self._links.clear()

    def stop(self) -> None:
        """Ask the loop to finish (safe from a signal handler or another thread)."""
        self._stop.set()

    # -- the loop --------------------------------------------------------------------------------
    def run(self, status: IO[str] | None = None, max_sim_s: float | None = None) -> None:
        """Run until :meth:`stop` (or ``max_sim_s`` of simulated time); progress lines go to ``status``."""
        sim = self.sim
        dt = sim.dt
        wall0 = time.monotonic()
        sim0 = sim.clock.t
        speedup = sim.speedup
        next_status = wall0 + self.options.status_every_s
        try:
            while not self._stop.is_set():
                if sim.speedup != speedup:  # SIM_SPEEDUP changed: re-anchor the pacing
                    speedup = sim.speedup
                    wall0, sim0 = time.monotonic(), sim.clock.t
                now = time.monotonic()
                target = sim0 + (now - wall0) * speedup
                if target - sim.clock.t > 1.0 * speedup:  # more than 1 s late: run flat out, forget the debt
                    sim0, wall0 = sim.clock.t, now
                    target = sim.clock.t + IO_EVERY_STEPS * dt
                steps = 0
                while sim.clock.t + dt <= target + 1e-9 and steps < IO_EVERY_STEPS:
                    sim.step()
                    steps += 1
                self._send(sim.out.drain())
                if max_sim_s is not None and sim.clock.t >= max_sim_s:
                    break
                wait = 0.0 if steps == IO_EVERY_STEPS else max(0.0, (sim.clock.t + dt - target) / speedup)
                self._poll(min(wait, 0.05))
                if status is not None and time.monotonic() >= next_status:
                    next_status += self.options.status_every_s
                    self._status(status, time.monotonic() - wall0 + 1e-9, sim.clock.t - sim0)
        finally:
            self.wall_elapsed = time.monotonic() - wall0
            self._send(sim.out.drain())
            self._flush_tcp()

    def _status(self, out: IO[str], wall: float, sim_s: float) -> None:
        ap = self.sim.autopilot
        out.write(f"skyscan-sitl t={self.sim.clock.t:.1f}s {sim_s / wall:.1f}x real time, mode {ap.mode.name}, "
                  f"{'armed' if ap.armed else 'disarmed'}, {self.sim.trigger_count} photos\n")
        out.flush()

    def _send(self, frames: list[tuple[int, bytes]]) -> None:
        if not frames:
            return
        links = self._links
        for link_id, frame in frames:
            if link_id == BROADCAST:
                for link in links.values():
                    link.send(frame)
            elif (link := links.get(link_id)) is not None:
                link.send(frame)
        self._flush_tcp()
        if self.sim.logs is not None:
            self.sim.logs.flush()

    def _flush_tcp(self) -> None:
        for sock, link in list(self._tcp.items()):
            if not link.flush():
                self._drop(sock)

    def _poll(self, timeout: float) -> None:
        readers = [*self._listeners, *self._udp_in, *self._tcp, *self._udp_out]
        writers = [s for s, link in self._tcp.items() if link.pending]
        try:
            readable, writable, _ = select.select(readers, writers, [], timeout)
        except InterruptedError:
            return
        for sock in readable:
            if sock in self._listeners:
                self._accept(sock)
            elif sock in self._tcp:
                self._read_tcp(sock)
            elif sock in self._udp_in:
                self._read_udp_in(sock)
            elif sock in self._udp_out:
                self._read_udp_out(sock)
        for sock in writable:
            link = self._tcp.get(sock)
            if link is not None and not link.flush():
                self._drop(sock)

    def _accept(self, listener: socket.socket) -> None:
        try:
            conn, addr = listener.accept()
        except OSError:
            return
        conn.setblocking(False)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        link = _TcpLink(self._new_id(), conn, f"tcp:{addr[0]}:{addr[1]}")
        self._tcp[conn] = link
        self._links[link.id] = link

    def _drop(self, sock: socket.socket) -> None:
        link = self._tcp.pop(sock, None)
        if link is not None:
            self._links.pop(link.id, None)
            self.sim.gcs.link_closed(link.id)
        with contextlib.suppress(OSError):
            sock.close()

    def _read_tcp(self, sock: socket.socket) -> None:
        try:
            data = sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._drop(sock)
            return
        self._deliver(self._tcp[sock], data)

    def _read_udp_in(self, sock: socket.socket) -> None:
        for _ in range(64):
            try:
                data, addr = sock.recvfrom(65536)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return  # e.g. ICMP port unreachable from a peer that left
            link = self._udp_peers.get((sock, addr))
            if link is None:
                link = _UdpLink(self._new_id(), sock, addr, f"udp:{addr[0]}:{addr[1]}")
                self._udp_peers[(sock, addr)] = link
                self._links[link.id] = link
            self._deliver(link, data)

    def _read_udp_out(self, sock: socket.socket) -> None:
        link = self._udp_out[sock]
        for _ in range(64):
            try:
                data, _addr = sock.recvfrom(65536)
            except (BlockingIOError, InterruptedError, ConnectionRefusedError):
                return
            except OSError:
                return
            self._deliver(link, data)

    def _deliver(self, link: _Link, data: bytes) -> None:
        for msg in link.parse(data):
            if msg.get_type() == "BAD_DATA":
                continue
            self.sim.receive(link.id, msg)


def load_plugins(specs: list[str], options: SitlOptions) -> tuple[CameraHook | None, TerrainFn | None, list]:
    """Import ``module:factory`` plugins; each factory(options) returns an object with optional
    ``on_trigger(event)``, ``terrain(lat, lon)`` and ``close()``. Returns the combined camera hook,
    the terrain (the last plugin that has one) and the plugin objects."""
    hooks: list[CameraHook] = []
    terrain: TerrainFn | None = None
    plugins = []
    for spec in specs:
        module_name, sep, attr = spec.partition(":")
        if not sep or not module_name or not attr:
            raise InputError(f"--plugin: cannot read {spec!r}; write MODULE:FACTORY, e.g. sitl.camera:plugin")
        try:
            factory = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise InputError(f"--plugin {spec}: cannot load it ({exc})") from None
        plugin = factory(options)
        plugins.append(plugin)
        if callable(getattr(plugin, "on_trigger", None)):
            hooks.append(plugin.on_trigger)
        if callable(getattr(plugin, "terrain", None)):
            terrain = plugin.terrain
    if not hooks:
        return None, terrain, plugins
    if len(hooks) == 1:
        return hooks[0], terrain, plugins

    def camera(event) -> None:
        for hook in hooks:
            hook(event)

    return camera, terrain, plugins


def run_sitl(options: SitlOptions, camera: CameraHook | None = None, terrain: TerrainFn | None = None,
             stdout: IO[str] | None = None, stderr: IO[str] | None = None,
             on_ready: Callable[[SitlServer], None] | None = None) -> int:
    """Run a SITL until SIGINT/SIGTERM: bind, print one 'skyscan-sitl listening ...' line per endpoint,
    fly, then close sockets and logs. Returns the exit status (0)."""
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    options.check()
    plugin_camera, plugin_terrain, plugins = load_plugins(options.plugins, options)
    camera = camera or plugin_camera
    terrain = terrain or plugin_terrain
    boot = options.boot_unix_s()
    options.start_time = boot
    logs = FlightLogs(options.log_dir or default_log_dir(), boot)
    sim = None
    server = None
    try:
        sim = Simulator(options, camera=camera, terrain=terrain, logs=logs)
        server = SitlServer(sim, options)
        addresses = server.open()
        # Handlers first: whoever reads the ready lines may signal at once.
        restore = _install_signals(server)
        try:
            for address in addresses:
                stdout.write(f"{READY_PREFIX} {address}\n")
            stdout.write(f"skyscan-sitl logs {logs.tlog_path}\n")
            stdout.flush()
            if on_ready is not None:
                on_ready(server)
            server.run(status=stderr)
        finally:
            restore()
        wall = max(server.wall_elapsed, 1e-9)
        stderr.write(f"skyscan-sitl stopped: {sim.clock.t:.1f} s simulated in {wall:.1f} s "
                     f"({sim.clock.t / wall:.1f}x real time), {sim.trigger_count} photos, log {logs.tlog_path}\n")
        stderr.flush()
    finally:
        if server is not None:
            server.close()
        logs.close()
        for plugin in plugins:
            if callable(getattr(plugin, "close", None)):
                plugin.close()
    return 0


def _install_signals(server: SitlServer) -> Callable[[], None]:
    """SIGINT and SIGTERM stop the loop (main thread only); returns a function restoring the old handlers."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    old = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in old:
        signal.signal(sig, lambda signum, frame: server.stop())

    def restore() -> None:
        for sig, handler in old.items():
            signal.signal(sig, handler)

    return restore
