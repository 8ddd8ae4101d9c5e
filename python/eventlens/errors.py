"""User-facing errors.

Raise :class:`EventLensError` (or a subclass) for anything a user can fix —
a missing file, a bad config value, a branch absent from a NanoAOD file.  The
CLI prints its message on one line, without a traceback (``--debug`` shows it).
"""


class EventLensError(Exception):
    """A problem with the user's input, with a message that says what to do."""


class ConfigError(EventLensError, ValueError):
    """A configuration file or value is invalid."""


class InputFileError(EventLensError, OSError):
    """An input file is missing, unreadable, or lacks what eventlens needs."""
