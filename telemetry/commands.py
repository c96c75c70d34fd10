"""Vehicle commands over a :class:`~telemetry.link.Link`: modes, arming, take-off, mission start, RTL, land.

Commands go as COMMAND_LONG and are resent (``confirmation`` incremented) until a COMMAND_ACK for the
same command arrives; IN_PROGRESS extends the wait. A refusal raises :class:`CommandError` with the
MAV_RESULT name and, for arming, the vehicle's own "PreArm:" reasons from STATUSTEXT.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from pymavlink import mavutil

from skyscan.errors import InputError, LinkError, LinkTimeout
from telemetry.link import Link, mavlink

__all__ = ["CommandError", "arm", "command", "disarm", "land", "mission_start", "mode_name", "rtl", "set_mode",
           "takeoff", "wait_mode"]


class CommandError(LinkError):
    """The vehicle refused or failed a command. ``result`` is the MAV_RESULT."""

    def __init__(self, message: str, result: int | None = None):
        super().__init__(message)
        self.result = result


def _result_name(result: int) -> str:
    entry = mavlink.enums["MAV_RESULT"].get(result)
    return entry.name.removeprefix("MAV_RESULT_") if entry else f"result {result}"


def _cmd_name(cmd: int) -> str:
    entry = mavlink.enums["MAV_CMD"].get(cmd)
    return entry.name.removeprefix("MAV_CMD_") if entry else f"command {cmd}"


def command(link: Link, cmd: int, *params: float, timeout: float = 1.5, retries: int = 3,
            in_progress_timeout: float = 30.0) -> int:
    """Send COMMAND_LONG ``cmd`` with up to 7 params; return the MAV_RESULT once ACCEPTED.

    Raises CommandError when the vehicle refuses (DENIED, FAILED, UNSUPPORTED, ...) and LinkTimeout
    when no acknowledgement comes after ``retries`` resends.
    """
    p = [float(v) for v in params] + [0.0] * (7 - len(params))
    for confirmation in range(retries + 1):
        link.mav.command_long_send(link.target_system, link.target_component, cmd, confirmation, *p)
        wait = timeout
        while True:
            try:
                ack = link.recv("COMMAND_ACK", where=lambda m: m.command == cmd, timeout=wait)
            except LinkTimeout:
                break  # resend with the next confirmation number
            if ack.result == mavlink.MAV_RESULT_IN_PROGRESS:
                wait = in_progress_timeout
                continue
            if ack.result == mavlink.MAV_RESULT_ACCEPTED:
                return ack.result
            if ack.result == mavlink.MAV_RESULT_TEMPORARILY_REJECTED and confirmation < retries:
                time.sleep(0.2)
                break
            raise CommandError(f"{_cmd_name(cmd)} refused by the vehicle: {_result_name(ack.result)}", ack.result)
    raise LinkTimeout(f"{_cmd_name(cmd)}: no acknowledgement from the vehicle after {retries + 1} tries")


def _mode_map(link: Link) -> dict[str, int]:
    """ArduCopter's mode numbers by name (PX4's main/sub mode encoding is not supported yet)."""
    return {name: number for number, name in mavutil.mode_mapping_acm.items()}


def mode_name(link: Link, custom_mode: int) -> str:
    """The name of an ArduCopter ``custom_mode`` number."""
    for name, number in _mode_map(link).items():
        if number == custom_mode:
            return name
    return f"MODE{custom_mode}"


def set_mode(link: Link, mode: str, timeout: float = 5.0, ready_timeout: float = 0.0) -> None:
    """Switch to flight mode ``mode`` (e.g. GUIDED, AUTO, RTL, LAND) and wait until the heartbeat shows it.

    With ``ready_timeout`` > 0, keep asking while the vehicle refuses (a position mode such as
    GUIDED is refused until the GPS and the EKF are ready after boot).
    """
    modes = _mode_map(link)
    number = modes.get(mode.upper())
    if number is None:
        raise InputError(f"unknown flight mode {mode!r}; known: {', '.join(sorted(modes))}")

    def attempt() -> None:
        command(link, mavlink.MAV_CMD_DO_SET_MODE, mavlink.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED, number)

    if ready_timeout > 0:
        _retry_until_accepted(link, f"enter {mode.upper()}", attempt, ready_timeout)
    else:
        attempt()
    wait_mode(link, mode, timeout)


def wait_mode(link: Link, mode: str, timeout: float = 5.0) -> None:
    number = _mode_map(link)[mode.upper()]
    link.recv("HEARTBEAT", where=lambda m: m.custom_mode == number, timeout=timeout,
              what=f"heartbeat in mode {mode.upper()}")


def _armed(msg) -> bool:
    return bool(msg.base_mode & mavlink.MAV_MODE_FLAG_SAFETY_ARMED)


def _retry_until_accepted(link: Link, what: str, attempt: Callable[[], None], timeout: float) -> None:
    """Call ``attempt`` until the vehicle accepts it (it refuses while GPS/EKF settle after boot).

    Raises CommandError naming the vehicle's own reasons (its STATUSTEXTs) when ``timeout`` passes.
    """
    deadline = time.monotonic() + timeout
    since = time.monotonic()
    last_error: CommandError | None = None
    while time.monotonic() < deadline:
        try:
            attempt()
            return
        except CommandError as exc:
            last_error = exc
            link.drain(1.0)
    said = [text for t, sev, text in link.statustext if t >= since and sev <= mavlink.MAV_SEVERITY_WARNING]
    why = "; ".join(dict.fromkeys(said)) if said else (str(last_error) if last_error else "no reason given")
    raise CommandError(f"the vehicle will not {what} within {timeout:g} s: {why}",
                       last_error.result if last_error else None)


def arm(link: Link, timeout: float = 30.0, force: bool = False) -> None:
    """Arm, retrying while pre-arm checks fail (GPS, EKF settle after boot) until ``timeout``.

    Raises CommandError naming the vehicle's "PreArm:" reasons when it will not arm.
    """

    def attempt() -> None:
        command(link, mavlink.MAV_CMD_COMPONENT_ARM_DISARM, 1, 21196 if force else 0)
        link.recv("HEARTBEAT", where=_armed, timeout=5.0, what="armed heartbeat")

    _retry_until_accepted(link, "arm", attempt, timeout)


def disarm(link: Link, force: bool = False) -> None:
    command(link, mavlink.MAV_CMD_COMPONENT_ARM_DISARM, 0, 21196 if force else 0)


def takeoff(link: Link, altitude_m: float) -> None:
    """NAV_TAKEOFF to ``altitude_m`` above home (vehicle armed in GUIDED)."""
    command(link, mavlink.MAV_CMD_NAV_TAKEOFF, 0, 0, 0, float("nan"), 0, 0, altitude_m)


def mission_start(link: Link) -> None:
    """MISSION_START (p1 = p2 = 0: from the current item): ArduCopter switches to AUTO and starts."""
    command(link, mavlink.MAV_CMD_MISSION_START, 0, 0)


def rtl(link: Link) -> None:
    set_mode(link, "RTL")


def land(link: Link) -> None:
    set_mode(link, "LAND")
