"""The teller desktop (PySide6): talks to the server over HTTP only."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("bank-system")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"
