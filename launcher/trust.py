"""Trust the local CA in the browser and OS trust stores (and take it out again).  No Qt.

Each store says whether it is usable here (``reason`` when not), whether the CA is trusted
(``status``), and the exact commands ``install``/``uninstall`` will run (``install_commands`` /
``uninstall_commands``, lists of argv lists) so a GUI can show them before anything is done.
Nothing here runs on import or without an explicit call.

Stores:

* ``NssStore``: an NSS database through ``certutil`` (Debian ``libnss3-tools``): Chromium/Chrome's
  ``~/.pki/nssdb`` (created when missing) and every Firefox profile's ``cert9.db``.
* ``DebianSystemStore``: ``/usr/local/share/ca-certificates`` + ``update-ca-certificates``
  (curl, Python, OpenSSL users).  Run only as root; otherwise ``install`` returns the exact sudo
  commands for the user to run, and runs nothing.
* ``MacKeychainStore``: the login keychain via ``security add-trusted-cert`` (macOS may ask for the
  user's password in a dialog).
* ``WindowsUserRootStore``: the current user's Root store via ``certutil -user -addstore Root``
  (Windows shows a confirmation dialog).
* ``WslWindowsHostStore``: under WSL (``is_wsl``: the kernel's ``osrelease`` names Microsoft/WSL),
  the Windows host's current-user Root store through interop: ``certutil.exe -user -addstore Root``
  with the CA's Windows path from ``wslpath -w``; read back with ``certutil.exe -user -store Root``
  (our SHA-1 thumbprint in its listing).  Windows browsers (Chrome, Edge) read that store.

``uninstall`` removes only our CA: the certificate whose nickname (the CA's common name) *and*
SHA-256 fingerprint match.  In NSS, certificates with the same subject share a nickname, and
``certutil -D`` cannot pick one by fingerprint; when another certificate shares our nickname it is
exported first and re-added with its trust flags if ``certutil -D`` happened to remove it.

Firefox profiles are found under the classic, ESR, Snap and Flatpak roots, from each root's
``profiles.ini`` and the folders in it (``firefox_profiles``).

Limits: HOME is read at call time (``Path.home()``).  Other Linux system stores (Fedora's
``update-ca-trust``, Arch's ``trust``) are not changed here; ``launcher.trustdoctor`` reports them
with the command to run.  The macOS and Windows stores are tested only through their command
builders, the WSL store with a stand-in Windows side (no such OS here).
"""

from __future__ import annotations

import base64
import configparser
import enum
import hashlib
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from launcher.certs import describe
from launcher.errors import LauncherError, TrustError

__all__ = [
    "DebianSystemStore",
    "FirefoxProfile",
    "LocalCA",
    "MacKeychainStore",
    "NssStore",
    "Outcome",
    "TrustError",
    "TrustStore",
    "WindowsUserRootStore",
    "WslWindowsHostStore",
    "chromium_store",
    "default_stores",
    "firefox_profile_dirs",
    "firefox_profiles",
    "firefox_store",
    "is_wsl",
    "pem_file_holds",
    "run_command",
]


# --- the CA and running commands ------------------------------------------------------------------


@dataclass(frozen=True)
class LocalCA:
    """The CA certificate to (un)trust, with the identifiers the stores match on."""

    path: Path
    nickname: str  # the CA's common name; NSS nickname, keychain label
    sha256: str  # "AB:CD:..." (upper-case, colons)
    sha1: str  # "ABCD..." (upper-case hex, no colons): the thumbprint macOS and Windows address certs by

    @classmethod
    def load(cls, path: str | Path) -> LocalCA:
        """Read a CA certificate file (CertFileError when missing or not PEM)."""
        path = Path(path)
        info = describe(path)
        der = _pem_blocks(path.read_bytes())[0]
        return cls(
            path=path.resolve(),
            nickname=info.common_name,
            sha256=info.fingerprint_sha256,
            sha1=hashlib.sha1(der).hexdigest().upper(),  # an identifier here, not a security check
        )


class TrustState(enum.StrEnum):
    """What one store says about the CA.  A ``StrEnum``: the value is the word shown (the
    window's status list, ``flask-launcher trust status``) and the style sheet's ``state``."""

    TRUSTED = "trusted"
    NOT_TRUSTED = "not trusted"
    UNAVAILABLE = "unavailable"  # the store cannot be used here (no certutil, no database...)
    FAILED = "error"  # asking the store failed
    NO_CA = "no CA"  # there is no local CA yet: nothing to ask about


@dataclass(frozen=True)
class Outcome:
    """What ``install``/``uninstall`` did.  ``manual`` lists commands the user must run (e.g. sudo)."""

    store: str
    changed: bool
    message: str
    manual: tuple[tuple[str, ...], ...] = ()


Runner = Callable[[Sequence[str], bytes | None], "subprocess.CompletedProcess[bytes]"]

_PEM_RE = re.compile(rb"-----BEGIN CERTIFICATE-----\s*(.+?)\s*-----END CERTIFICATE-----", re.S)


def _pem_blocks(data: bytes) -> list[bytes]:
    """The DER bytes of every certificate in a PEM text (bad blocks are skipped)."""
    out = []
    for block in _PEM_RE.findall(data):
        try:
            out.append(base64.b64decode(b"".join(block.split())))
        except ValueError:
            continue
    return out


def _sha256_hex(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest().upper()


def pem_file_holds(path: str | Path, ca: LocalCA) -> bool:
    """Whether the PEM file (a bundle) at *path* holds *ca* (by SHA-256); False when unreadable."""
    try:
        data = Path(path).read_bytes()
    except OSError:
        return False
    target = ca.sha256.replace(":", "")
    return any(_sha256_hex(der) == target for der in _pem_blocks(data))


def _colon(hex_upper: str) -> str:
    return ":".join(hex_upper[i : i + 2] for i in range(0, len(hex_upper), 2))


def run_command(argv: Sequence[str], stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run a store command, capturing its output (no shell).  Missing program -> TrustError."""
    try:
        return subprocess.run(list(argv), input=stdin, capture_output=True, timeout=120, check=False)
    except FileNotFoundError:
        raise TrustError(f"{argv[0]} was not found: install it, or use another trust store.") from None
    except subprocess.TimeoutExpired:
        raise TrustError(f"`{shlex.join(argv)}` did not finish within 120 seconds.") from None


def _tail(proc: subprocess.CompletedProcess[bytes]) -> str:
    text = (proc.stderr or b"").decode(errors="replace").strip() or (proc.stdout or b"").decode(
        errors="replace"
    ).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return " ".join(lines[-2:]) if lines else f"exit status {proc.returncode}"


class TrustStore:
    """One place a CA can be trusted.  Subclasses fill in the commands."""

    name = "trust store"

    def __init__(self, runner: Runner | None = None) -> None:
        self._runner = runner or run_command

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"

    # -- interface ----------------------------------------------------------------------------------

    def unavailable_reason(self) -> str | None:
        """None when this store can be used here, else a sentence saying why not (and the fix)."""
        return None

    @property
    def available(self) -> bool:
        return self.unavailable_reason() is None

    @property
    def reason(self) -> str:
        return self.unavailable_reason() or ""

    @property
    def manual_only(self) -> bool:
        """True when install/uninstall only hand back commands for the user to run (e.g. sudo)."""
        return False

    def status(self, ca: LocalCA) -> bool:
        """Whether ``ca`` (this exact certificate) is trusted by this store."""
        raise NotImplementedError

    def install_commands(self, ca: LocalCA) -> list[list[str]]:
        raise NotImplementedError

    def uninstall_commands(self, ca: LocalCA) -> list[list[str]]:
        raise NotImplementedError

    def install(self, ca: LocalCA) -> Outcome:
        if self.status(ca):
            return Outcome(self.name, False, f"{self.name}: already trusts {ca.nickname}.")
        for argv in self.install_commands(ca):
            self._check(argv)
        if not self.status(ca):
            raise TrustError(f"{self.name}: the commands ran but the CA is still not trusted.")
        return Outcome(self.name, True, f"{self.name}: now trusts {ca.nickname}.")

    def uninstall(self, ca: LocalCA) -> Outcome:
        commands = self.uninstall_commands(ca)
        if not commands:
            return Outcome(self.name, False, f"{self.name}: {ca.nickname} was not installed.")
        for argv in commands:
            self._check(argv)
        return Outcome(self.name, True, f"{self.name}: removed {ca.nickname}.")

    # -- helpers -------------------------------------------------------------------------------------

    def _run(self, argv: Sequence[str], stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        return self._runner(list(argv), stdin)

    def _check(self, argv: Sequence[str], stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        proc = self._run(argv, stdin)
        if proc.returncode != 0:
            raise TrustError(f"{self.name}: `{shlex.join(argv)}` failed: {_tail(proc)}")
        return proc


# --- NSS (Chromium, Firefox) ----------------------------------------------------------------------

#: certutil's words for trust bits (``certutil -L -n NICK``) -> its trust-argument letters.
_NSS_WORDS = {
    "Trusted CA": "C",
    "Trusted Client CA": "T",
    "Trusted": "P",
    "Warn When Sending": "w",
    "Step-up": "g",
}


@dataclass(frozen=True)
class NssEntry:
    sha256: str
    trust: str  # "C,," style
    der: bytes = field(repr=False)


def _nss_trust(sections: dict[str, list[str]]) -> str:
    parts = []
    for key in ("SSL Flags", "Email Flags", "Object Signing Flags"):
        words = sections.get(key, [])
        letters = "".join(_NSS_WORDS[w] for w in words if w in _NSS_WORDS)
        if "Valid CA" in words and not ({"C", "T"} & set(letters)):
            letters += "c"
        if "Terminal Record" in words and "P" not in letters:
            letters += "p"
        parts.append(letters)
    return ",".join(parts)


def _parse_nss_listing(text: str) -> list[tuple[str, str]]:
    """(sha256, trust) per certificate in ``certutil -L -n NICK`` output, in order."""
    found: list[tuple[str, str]] = []
    for block in re.split(r"(?m)^Certificate:\s*$", text)[1:]:
        fp = re.search(r"Fingerprint \(SHA-256\):\s*\n\s*([0-9A-Fa-f:]+)", block)
        sections: dict[str, list[str]] = {}
        flags = block.split("Certificate Trust Flags:", 1)
        if len(flags) == 2:
            current = None
            for line in flags[1].splitlines():
                stripped = line.strip()
                if stripped.endswith("Flags:"):
                    current = stripped[:-1]
                    sections[current] = []
                elif stripped and current:
                    sections[current].append(stripped)
                elif not stripped and current == "Object Signing Flags":
                    break
        if fp:
            found.append((fp.group(1).upper(), _nss_trust(sections)))
    return found


class NssStore(TrustStore):
    """An NSS certificate database (``cert9.db``), edited with NSS's ``certutil``."""

    def __init__(
        self, name: str, db_dir: str | Path, *, create: bool = False, runner: Runner | None = None
    ) -> None:
        super().__init__(runner)
        self.name = name
        self.db_dir = Path(db_dir)
        self.create = create

    @property
    def db(self) -> str:
        return f"sql:{self.db_dir}"

    def exists(self) -> bool:
        return (self.db_dir / "cert9.db").exists()

    def unavailable_reason(self) -> str | None:
        if shutil.which("certutil") is None:
            fix = "brew install nss" if sys.platform == "darwin" else "apt-get install libnss3-tools"
            return f"certutil not found: {fix}"
        if not self.create and not self.exists():
            return f"no NSS database at {self.db_dir}"
        return None

    def entries(self, nickname: str) -> list[NssEntry]:
        """Every certificate in the database with this nickname."""
        if not self.exists():
            return []
        listing = self._run(["certutil", "-d", self.db, "-L", "-n", nickname])
        if listing.returncode != 0:
            return []  # "Could not find cert"
        pems = self._check(["certutil", "-d", self.db, "-L", "-n", nickname, "-a"])
        ders = {_sha256_hex(der): der for der in _pem_blocks(pems.stdout)}
        out = []
        for fp, trust in _parse_nss_listing(listing.stdout.decode(errors="replace")):
            hex_fp = fp.replace(":", "")
            if hex_fp in ders:
                out.append(NssEntry(_colon(hex_fp), trust, ders[hex_fp]))
        return out

    def status(self, ca: LocalCA) -> bool:
        return any(e.sha256 == ca.sha256 and "C" in e.trust.split(",")[0] for e in self.entries(ca.nickname))

    def install_commands(self, ca: LocalCA) -> list[list[str]]:
        commands: list[list[str]] = []
        if self.create and not self.exists():
            commands.append(["mkdir", "-p", "-m", "700", str(self.db_dir)])
            commands.append(["certutil", "-d", self.db, "-N", "--empty-password"])
        commands.append(["certutil", "-d", self.db, "-A", "-t", "C,,", "-n", ca.nickname, "-i", str(ca.path)])
        return commands

    def uninstall_commands(self, ca: LocalCA) -> list[list[str]]:
        """The deletion, plus (shown for information) re-adding others that share the nickname."""
        entries = self.entries(ca.nickname)
        if not any(e.sha256 == ca.sha256 for e in entries):
            return []
        commands = [["certutil", "-d", self.db, "-D", "-n", ca.nickname]]
        for other in entries:
            if other.sha256 != ca.sha256:
                commands.append(
                    ["certutil", "-d", self.db, "-A", "-t", other.trust, "-n", ca.nickname, "-i",
                     f"<exported copy of {other.sha256[:23]}…, if certutil -D took it>"]
                )  # fmt: skip
        return commands

    def uninstall(self, ca: LocalCA) -> Outcome:
        entries = self.entries(ca.nickname)
        if not any(e.sha256 == ca.sha256 for e in entries):
            return Outcome(self.name, False, f"{self.name}: {ca.nickname} was not installed.")
        others = [e for e in entries if e.sha256 != ca.sha256]
        remaining = {e.sha256 for e in entries}
        # `certutil -D -n NICK` deletes one certificate with that nickname, NSS's choice: repeat until
        # ours is gone, then put back any other that went with it, with its own trust flags.
        for _ in range(len(entries)):
            self._check(["certutil", "-d", self.db, "-D", "-n", ca.nickname])
            remaining = {e.sha256 for e in self.entries(ca.nickname)}
            if ca.sha256 not in remaining:
                break
        for other in others:
            if other.sha256 not in remaining:
                pem = (
                    b"-----BEGIN CERTIFICATE-----\n"
                    + base64.encodebytes(other.der)
                    + b"-----END CERTIFICATE-----\n"
                )
                self._check(["certutil", "-d", self.db, "-A", "-t", other.trust, "-n", ca.nickname], pem)
        if ca.sha256 in {e.sha256 for e in self.entries(ca.nickname)}:
            raise TrustError(f"{self.name}: certutil did not remove {ca.nickname}.")
        return Outcome(self.name, True, f"{self.name}: removed {ca.nickname}.")


def chromium_store(runner: Runner | None = None) -> NssStore:
    """Chromium/Chrome's shared NSS database, ``~/.pki/nssdb`` (created on install when missing)."""
    return NssStore("Chromium/Chrome (NSS)", Path.home() / ".pki" / "nssdb", create=True, runner=runner)


#: Where Firefox keeps its profiles, relative to HOME: (variant, folder).
FIREFOX_ROOTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("", (".mozilla", "firefox")),
    ("ESR", (".mozilla", "firefox-esr")),
    ("Snap", ("snap", "firefox", "common", ".mozilla", "firefox")),
    ("Flatpak", (".var", "app", "org.mozilla.firefox", ".mozilla", "firefox")),
    ("macOS", ("Library", "Application Support", "Firefox", "Profiles")),
)


@dataclass(frozen=True)
class FirefoxProfile:
    """One Firefox profile folder: which install it belongs to and whether it has an NSS db yet."""

    variant: str  # "" (deb/tarball), "ESR", "Snap", "Flatpak", "macOS"
    path: Path

    @property
    def name(self) -> str:
        """The store's name: ``Firefox profile X`` (``Firefox Snap profile X`` for the other roots)."""
        kind = f"Firefox {self.variant} profile" if self.variant else "Firefox profile"
        return f"{kind} {self.path.name}"

    @property
    def has_db(self) -> bool:
        return (self.path / "cert9.db").is_file()


def _profiles_ini(root: Path) -> list[Path]:
    """The profile folders a root's ``profiles.ini`` lists (relative or absolute ``Path=``)."""
    ini = root / "profiles.ini"
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(ini.read_text(errors="replace"))
    except (OSError, configparser.Error):
        return []
    out = []
    for section in parser.sections():
        if not section.startswith("Profile") or "Path" not in parser[section]:
            continue
        path = Path(parser[section]["Path"])
        relative = parser[section].get("IsRelative", "1").strip() != "0"
        out.append(root / path if relative else path)
    return out


def firefox_profiles(home: Path | None = None) -> list[FirefoxProfile]:
    """Every Firefox profile under HOME: those ``profiles.ini`` lists (with or without a
    ``cert9.db``: a profile never started has none) and any folder with a ``cert9.db``."""
    home = home or Path.home()
    found: list[FirefoxProfile] = []
    seen: set[Path] = set()
    for variant, parts in FIREFOX_ROOTS:
        root = home.joinpath(*parts)
        if not root.is_dir():
            continue
        candidates = _profiles_ini(root)
        candidates += sorted(p for p in root.iterdir() if (p / "cert9.db").is_file())
        for path in candidates:
            key = path.resolve() if path.exists() else path
            if key in seen or not path.is_dir():
                continue
            seen.add(key)
            found.append(FirefoxProfile(variant, path))
    return found


def firefox_profile_dirs() -> list[Path]:
    """Firefox profiles (deb/tarball, ESR, snap, flatpak, macOS) that have a ``cert9.db``."""
    return [p.path for p in firefox_profiles() if p.has_db]


def firefox_store(profile: FirefoxProfile, runner: Runner | None = None) -> NssStore:
    """The NSS store of one Firefox profile (its database must exist: Firefox makes it)."""
    return NssStore(profile.name, profile.path, runner=runner)


# --- Debian/Ubuntu system store -----------------------------------------------------------------


class DebianSystemStore(TrustStore):
    """``/usr/local/share/ca-certificates`` + ``update-ca-certificates`` (needs root).

    Our file is named after the CA's fingerprint, so uninstall removes exactly that certificate.
    The folders are parameters so tests can point ``update-ca-certificates`` at a temporary tree.
    """

    name = "System (update-ca-certificates)"

    def __init__(
        self,
        *,
        local_dir: str | Path = "/usr/local/share/ca-certificates",
        etc_dir: str | Path = "/etc/ssl/certs",
        update_args: Sequence[str] = (),
        as_root: bool | None = None,
        runner: Runner | None = None,
    ) -> None:
        super().__init__(runner)
        self.local_dir = Path(local_dir)
        self.etc_dir = Path(etc_dir)
        self.update_args = list(update_args)
        self._as_root = as_root

    @property
    def as_root(self) -> bool:
        if self._as_root is not None:
            return self._as_root
        return hasattr(os, "geteuid") and os.geteuid() == 0

    @property
    def manual_only(self) -> bool:
        return not self.as_root

    @property
    def bundle(self) -> Path:
        return self.etc_dir / "ca-certificates.crt"

    def _tool(self) -> str | None:
        return shutil.which("update-ca-certificates") or shutil.which(
            "update-ca-certificates", path="/usr/sbin:/sbin"
        )

    def unavailable_reason(self) -> str | None:
        if not sys.platform.startswith("linux"):
            return "only on Linux"
        if self._tool() is None:
            return "update-ca-certificates not found: apt-get install ca-certificates (Debian/Ubuntu only)"
        return None

    def file_for(self, ca: LocalCA) -> Path:
        return self.local_dir / f"flask-https-launcher-{ca.sha256.replace(':', '')[:16].lower()}.crt"

    def status(self, ca: LocalCA) -> bool:
        try:
            data = self.bundle.read_bytes()
        except OSError:
            return False
        target = ca.sha256.replace(":", "")
        return any(_sha256_hex(der) == target for der in _pem_blocks(data))

    def _sudo(self, argv: list[str]) -> list[str]:
        return argv if self.as_root else ["sudo", *argv]

    def _update(self, *extra: str) -> list[str]:
        return self._sudo([self._tool() or "update-ca-certificates", *extra, *self.update_args])

    def install_commands(self, ca: LocalCA) -> list[list[str]]:
        return [
            self._sudo(["mkdir", "-p", str(self.local_dir)]),
            self._sudo(["install", "-m", "0644", str(ca.path), str(self.file_for(ca))]),
            self._update(),
        ]

    def _ours(self, ca: LocalCA) -> Path | None:
        path = self.file_for(ca)
        try:
            info = describe(path)
        except LauncherError:
            return None
        return path if info.fingerprint_sha256 == ca.sha256 and info.common_name == ca.nickname else None

    def uninstall_commands(self, ca: LocalCA) -> list[list[str]]:
        path = self._ours(ca)
        if path is None:
            return []
        # --fresh also drops the /etc/ssl/certs symlink to the removed file.
        return [self._sudo(["rm", "-f", str(path)]), self._update("--fresh")]

    def _manual(self, ca: LocalCA, commands: list[list[str]], verb: str) -> Outcome:
        line = " && ".join(shlex.join(c) for c in commands)
        return Outcome(
            self.name,
            False,
            f"{self.name}: {verb} needs root; run this yourself: {line}",
            tuple(tuple(c) for c in commands),
        )

    def install(self, ca: LocalCA) -> Outcome:
        if not self.as_root and not self.status(ca):
            return self._manual(ca, self.install_commands(ca), "trusting the CA system-wide")
        return super().install(ca)

    def uninstall(self, ca: LocalCA) -> Outcome:
        commands = self.uninstall_commands(ca)
        if commands and not self.as_root:
            return self._manual(ca, commands, "removing the CA system-wide")
        return super().uninstall(ca)


# --- macOS ------------------------------------------------------------------------------------------


class MacKeychainStore(TrustStore):
    """The user's login keychain, trusted for SSL through ``security`` (macOS)."""

    name = "macOS login keychain"

    def __init__(self, keychain: str | Path | None = None, *, runner: Runner | None = None) -> None:
        super().__init__(runner)
        self._keychain = Path(keychain) if keychain else None

    @property
    def keychain(self) -> Path:
        return self._keychain or Path.home() / "Library" / "Keychains" / "login.keychain-db"

    def unavailable_reason(self) -> str | None:
        if sys.platform != "darwin":
            return "only on macOS"
        if shutil.which("security") is None:
            return "the security tool was not found"
        return None

    def _present(self, ca: LocalCA) -> bool:
        """Our certificate (nickname and SHA-1 thumbprint) is in the keychain."""
        proc = self._run(["security", "find-certificate", "-a", "-Z", "-c", ca.nickname, str(self.keychain)])
        if proc.returncode != 0:
            return False
        hashes = re.findall(r"SHA-1 hash:\s*([0-9A-Fa-f]{40})", proc.stdout.decode(errors="replace"))
        return ca.sha1 in {h.upper() for h in hashes}

    def status(self, ca: LocalCA) -> bool:
        if not self._present(ca):
            return False
        # verify-cert succeeds for a self-signed root only when trust settings make it a trusted root.
        return self._run(["security", "verify-cert", "-c", str(ca.path), "-p", "ssl"]).returncode == 0

    def install_commands(self, ca: LocalCA) -> list[list[str]]:
        return [
            [
                "security",
                "add-trusted-cert",
                "-r",
                "trustRoot",
                "-p",
                "ssl",
                "-k",
                str(self.keychain),
                str(ca.path),
            ]
        ]

    def uninstall_commands(self, ca: LocalCA) -> list[list[str]]:
        if not self._present(ca):
            return []
        return [
            ["security", "remove-trusted-cert", str(ca.path)],
            ["security", "delete-certificate", "-Z", ca.sha1, str(self.keychain)],
        ]


# --- Windows ----------------------------------------------------------------------------------------


class WindowsUserRootStore(TrustStore):
    """The current user's Trusted Root store, through Windows' own ``certutil.exe``."""

    name = "Windows user Root store"

    def unavailable_reason(self) -> str | None:
        if sys.platform != "win32":
            return "only on Windows"
        if shutil.which("certutil") is None:
            return "certutil.exe was not found"
        return None

    def _present(self, ca: LocalCA) -> bool:
        """The store has a certificate with our SHA-1 thumbprint whose subject is our nickname."""
        proc = self._run(["certutil", "-user", "-store", "Root", ca.sha1])
        return proc.returncode == 0 and ca.nickname in proc.stdout.decode(errors="replace")

    def status(self, ca: LocalCA) -> bool:
        return self._present(ca)

    def install_commands(self, ca: LocalCA) -> list[list[str]]:
        return [["certutil", "-user", "-addstore", "Root", str(ca.path)]]

    def uninstall_commands(self, ca: LocalCA) -> list[list[str]]:
        if not self._present(ca):
            return []
        return [["certutil", "-user", "-delstore", "Root", ca.sha1]]


# --- WSL: the Windows host's store, through interop ------------------------------------------------

#: Points ``is_wsl`` at another ``osrelease`` file (tests; a kernel that hides its name).
OSRELEASE_ENV = "FLASK_LAUNCHER_OSRELEASE"


def is_wsl(osrelease: str | Path | None = None) -> bool:
    """Whether this Linux runs under WSL: the kernel's release (``/proc/sys/kernel/osrelease``, or
    the file *osrelease* / ``$FLASK_LAUNCHER_OSRELEASE``) names "microsoft" or "WSL"."""
    path = Path(osrelease or os.environ.get(OSRELEASE_ENV) or "/proc/sys/kernel/osrelease")
    try:
        text = path.read_text(errors="replace").lower()
    except OSError:
        return False
    return "microsoft" in text or "wsl" in text


class WslWindowsHostStore(TrustStore):
    """Under WSL: the Windows host's current-user Root store, through ``certutil.exe`` (interop).

    The CA's Windows path comes from ``wslpath -w``.  Status reads ``certutil.exe -user -store Root``
    and looks for our SHA-1 thumbprint (spaces and case ignored, as Windows versions differ).
    Windows shows a confirmation dialog on the host when a root is added.
    """

    name = "Windows host user Root store (WSL)"

    def __init__(self, osrelease: str | Path | None = None, *, runner: Runner | None = None) -> None:
        super().__init__(runner)
        self.osrelease = osrelease

    def unavailable_reason(self) -> str | None:
        if not is_wsl(self.osrelease):
            return "not WSL"
        for tool in ("certutil.exe", "wslpath"):
            if shutil.which(tool) is None:
                return f"{tool} was not found: WSL interop is off (see /etc/wsl.conf [interop])"
        return None

    def windows_path(self, path: Path) -> str:
        """*path* as Windows sees it (``wslpath -w``)."""
        proc = self._check(["wslpath", "-w", str(path)])
        return proc.stdout.decode(errors="replace").strip()

    def status(self, ca: LocalCA) -> bool:
        proc = self._run(["certutil.exe", "-user", "-store", "Root"])
        if proc.returncode != 0:
            return False
        text = proc.stdout.decode(errors="replace").upper()
        hashes = re.findall(r"HASH\(SHA1\):\s*([0-9A-F ]{40,59})", text)
        return ca.sha1 in {h.replace(" ", "") for h in hashes}

    def install_commands(self, ca: LocalCA) -> list[list[str]]:
        return [["certutil.exe", "-user", "-addstore", "Root", self.windows_path(ca.path)]]

    def uninstall_commands(self, ca: LocalCA) -> list[list[str]]:
        if not self.status(ca):
            return []
        return [["certutil.exe", "-user", "-delstore", "Root", ca.sha1]]


# --- all stores of this machine ---------------------------------------------------------------------


def default_stores(
    platform: str | None = None, runner: Runner | None = None, *, osrelease: str | Path | None = None
) -> list[TrustStore]:
    """The stores that matter on this OS (looked up now: HOME and Firefox profiles at call time).

    Under WSL (``is_wsl(osrelease)``) the Windows host's user Root store comes last."""
    platform = platform or sys.platform
    stores: list[TrustStore] = []
    if platform == "darwin":
        stores.append(MacKeychainStore(runner=runner))
    elif platform == "win32":
        stores.append(WindowsUserRootStore(runner=runner))
        return stores  # Firefox on Windows reads the Windows store (enterprise roots)
    else:
        stores.append(chromium_store(runner))
    for profile in firefox_profiles():
        if profile.has_db:
            stores.append(firefox_store(profile, runner))
    if platform.startswith("linux"):
        stores.append(DebianSystemStore(runner=runner))
        if is_wsl(osrelease):
            stores.append(WslWindowsHostStore(osrelease, runner=runner))
    return stores
