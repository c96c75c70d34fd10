"""LossyRelay: a UDP proxy that drops, duplicates and reorders datagrams, like a poor telemetry radio.

Put it between a ground station and a vehicle that speak UDP: the ground station sends to the
relay's port, the relay forwards to the vehicle from its own socket and sends the vehicle's answers
back to whoever spoke last. Each direction loses a datagram with probability ``loss``, sends one twice
with ``duplicate`` and holds one back behind the next with ``reorder``. Seeded, so a test run is
repeatable. Loopback only; it stops with :meth:`close` (or ``with``).
"""

from __future__ import annotations

import contextlib
import random
import select
import socket
import threading
from dataclasses import dataclass, field

__all__ = ["LossyRelay", "RelayStats"]


@dataclass
class RelayStats:
    """Datagrams seen per direction ("up" = ground to vehicle, "down" = vehicle to ground)."""

    received: dict[str, int] = field(default_factory=lambda: {"up": 0, "down": 0})
    dropped: dict[str, int] = field(default_factory=lambda: {"up": 0, "down": 0})
    duplicated: dict[str, int] = field(default_factory=lambda: {"up": 0, "down": 0})
    reordered: dict[str, int] = field(default_factory=lambda: {"up": 0, "down": 0})


class LossyRelay:
    """Forward UDP between a client and ``target`` with loss, duplication and reordering."""

    def __init__(self, target: tuple[str, int], loss: float = 0.0, duplicate: float = 0.0, reorder: float = 0.0,
                 seed: int = 0, host: str = "127.0.0.1", port: int = 0):
        self.target = target
        self.loss, self.duplicate, self.reorder = loss, duplicate, reorder
        self.rng = random.Random(seed)
        self.stats = RelayStats()
        self.front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.front.bind((host, port))
        self.back = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.back.bind((host, 0))
        self.port = self.front.getsockname()[1]
        self.client: tuple[str, int] | None = None
        self._held: dict[str, bytes | None] = {"up": None, "down": None}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lossy-relay", daemon=True)
        self._thread.start()

    def __enter__(self) -> LossyRelay:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def address(self) -> str:
        """Where the ground station should send: ``udpout:`` + this."""
        return f"127.0.0.1:{self.port}"

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2.0)
        self.front.close()
        self.back.close()

    def _emit(self, direction: str, data: bytes) -> None:
        sock, dest = (self.back, self.target) if direction == "up" else (self.front, self.client)
        if dest is None:
            return
        with contextlib.suppress(OSError):  # the peer went away: like a radio, say nothing
            sock.sendto(data, dest)

    def _forward(self, direction: str, data: bytes) -> None:
        s, rng = self.stats, self.rng
        s.received[direction] += 1
        if rng.random() < self.loss:
            s.dropped[direction] += 1
            return
        copies = 2 if rng.random() < self.duplicate else 1
        s.duplicated[direction] += copies - 1
        held = self._held[direction]
        if held is None and rng.random() < self.reorder:
            self._held[direction] = data  # goes out after the next datagram
            s.reordered[direction] += 1
            return
        for _ in range(copies):
            self._emit(direction, data)
        if held is not None:
            self._held[direction] = None
            self._emit(direction, held)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([self.front, self.back], [], [], 0.05)
            except (OSError, ValueError):
                return
            for sock in ready:
                try:
                    data, addr = sock.recvfrom(65535)
                except OSError:
                    continue
                if sock is self.front:
                    self.client = addr
                    self._forward("up", data)
                else:
                    self._forward("down", data)
