"""Errors a user can act on.

Every exception the CLI should print as one line (and exit non-zero) derives from `HarnessError`;
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class HarnessError(Exception):
    """A user-facing error: the message says what went wrong and what to do."""


class UnknownArchitectureError(HarnessError, KeyError):
    """An architecture name that is not registered."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class ArchitectureLoadError(HarnessError):
    """A `file.py:name` reference that cannot be loaded or is not a network."""


class DeviceUnavailableError(HarnessError):
    """A device was requested that this machine does not have."""


class ConfigurationError(HarnessError):
    """Bad options: an impossible batch size, an unsupported precision, a bad suite file."""


def one_line(message: str, limit: int = 500) -> str:
    """The first non-empty line of a message, shortened: errors in a table stay one row."""
    lines = [ln.strip() for ln in str(message).splitlines() if ln.strip()]
    text = lines[0] if lines else str(message).strip() or "unknown error"
    return text if len(text) <= limit else text[: limit - 3] + "..."
