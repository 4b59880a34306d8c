"""hubforce: two-way HubSpot <-> Salesforce sync, with local emulators of both APIs."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("hubforce")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = ["__version__"]
