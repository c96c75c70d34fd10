"""The one error family of skyscan.

Every error a user can cause (a bad file, an unknown camera, a plan that breaks a safety limit, a
vehicle that refuses an item) is a :class:`SkyscanError`. Its message says what is wrong, where, and
what to do; the CLI prints it on one line and exits with status 2. Anything else is a bug and keeps
its traceback.

This module imports nothing, so every package may raise these errors without pulling in the CLI.
"""


class SkyscanError(Exception):
    """Root of every error a user can cause."""


class InputError(SkyscanError, ValueError):
    """A bad input: an invalid area, an unknown camera, an option out of range, an unreadable file."""


class PlanCheckError(SkyscanError):
    """A plan that breaks a safety or vehicle limit (altitude, fence, battery, item count).

    ``problems`` lists every violation found, not only the first, so a pilot can fix them at once.
    """

    def __init__(self, message: str, problems: list[str] | None = None):
        super().__init__(message)
        self.problems = list(problems or [])


class LinkError(SkyscanError, OSError):
    """A MAVLink link that cannot be opened or that fails during a transfer."""


class LinkTimeout(LinkError, TimeoutError):
    """Nothing (or not the expected answer) arrived within the allowed time."""


class LogFormatError(SkyscanError, ValueError):
    """A flight log that cannot be read."""
