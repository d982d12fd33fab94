"""Typed errors raised at the core's boundary.

Every ``LauncherError`` is a *user* error: its ``str()`` is a complete sentence a person can act
on, and the CLI prints it on one line (exit code 2) while the GUI shows it inline.  Anything that
is not a ``LauncherError`` is a bug and is reported as such.
"""

from __future__ import annotations


class LauncherError(Exception):
    """Base class for errors caused by input, environment or configuration, not by a bug."""


# --- certificates -------------------------------------------------------------------------------


class CertError(LauncherError):
    """A certificate or key cannot be used."""


class CertFileError(CertError):
    """A certificate or key file is missing, unreadable or not valid PEM."""


class KeyMismatchError(CertError):
    """The private key does not belong to the certificate."""


class CertExpiredError(CertError):
    """The certificate's validity period has ended."""


class CertNotYetValidError(CertError):
    """The certificate's validity period has not started yet."""


class HostNotCoveredError(CertError):
    """The certificate's subject alternative names do not cover the host being served."""


class ChainError(CertError):
    """The certificate does not chain to the given CA."""


class CertDirError(CertError):
    """The certificate folder cannot be created or written."""


class UnsafeCertDirError(CertDirError):
    """Other users could change the certificate folder or a file in it (its mode or owner).

    A key written there, or a CA read from there, could be replaced or read by someone else, so the
    store refuses to use it rather than tighten what it does not own.
    """


class InvalidNameError(CertError):
    """A subject alternative name is neither a valid DNS name nor an IP address."""


class NameNotPermittedError(CertError):
    """A leaf would name a host that the local CA's name constraints do not permit.

    ``name`` is the refused name as written in the certificate (``DNS:x`` / ``IP:x``); the message
    names it and the fix (a CA that permits it: ``cert rotate-ca --ca-domain NAME``).
    """

    def __init__(self, message: str, name: str = "") -> None:
        super().__init__(message)
        self.name = name


class TrustError(LauncherError):
    """A trust-store command failed, or a store cannot be used."""


# --- servers --------------------------------------------------------------------------------------


class ServerError(LauncherError):
    """A listener cannot start."""


class ServerProcessError(ServerError):
    """The process that runs the servers for the window exited or cannot be reached."""


class ListenError(ServerError):
    """Binding or listening on the requested address failed."""

    def __init__(self, message: str, *, host: str = "", port: int = 0) -> None:
        super().__init__(message)
        self.host = host
        self.port = port


class PortInUseError(ListenError):
    """Another socket already listens on the port."""

    def __init__(self, host: str, port: int, holder: str | None = None) -> None:
        who = f" by {holder}" if holder else ""
        super().__init__(
            f"Port {port} on {host} is already in use{who}. Stop that program or choose another port.",
            host=host,
            port=port,
        )
        self.holder = holder


class PermissionDeniedError(ListenError):
    """The OS refuses to bind the port (ports below 1024 need privileges)."""


class AddressUnavailableError(ListenError):
    """The host address does not belong to this machine."""


# --- configuration and apps -----------------------------------------------------------------------


class ConfigError(LauncherError):
    """A setting has an invalid value."""


class InvalidTargetError(LauncherError):
    """A path or URL to inspect, or the CA file to verify it with, cannot be used."""


class AppLoadError(LauncherError):
    """The user's Flask app could not be imported or created.

    ``details`` holds the user's traceback for a details pane; ``str()`` stays one line.
    """

    def __init__(self, message: str, details: str = "") -> None:
        super().__init__(message)
        self.details = details
