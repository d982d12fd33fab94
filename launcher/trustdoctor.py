"""The trust doctor: every place a client might look for the local CA, and the one fix for each.  No Qt.

``diagnose(ca)`` reads, without changing anything:

* **Browsers** (they decide the exit code): Chromium/Chrome's NSS database (``~/.pki/nssdb``);
  every Firefox profile (classic, ESR, Snap, Flatpak roots; ``profiles.ini`` and the folders);
  Firefox's enterprise policy (``policies.json`` with ``Certificates.Install`` or
  ``ImportEnterpriseRoots``; ``security.enterprise_roots.enabled`` in a profile), the alternative to
  per-profile installs; under WSL the Windows host's user Root store (Chrome and Edge on Windows
  read it).
* **System stores**: Debian/Ubuntu (``update-ca-certificates``), Fedora/RHEL (``update-ca-trust``),
  Arch (``trust anchor``), the macOS login keychain, the Windows user Root store.  One applies per
  system; the others say "absent" (not an error).
* **Runtimes**: Python requests (``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE``) and httpx / ``ssl``
  (``SSL_CERT_FILE``), which use certifi or OpenSSL's default file, not the browsers; the
  ``truststore`` package; Node (``NODE_EXTRA_CA_CERTS``); curl and wget (the system store); a Java
  keystore (``keytool``); containers (advice: mount the CA and run ``update-ca-certificates``).
* **Restart**: the browsers of this user running now (``/proc``) and whether each must restart to
  see a newly trusted CA (docs/trust.md: Chromium keeps refusing a site it refused until it
  restarts; Firefox takes the CA at once).

Each ``DoctorRow`` has an ``Check`` state, a detail and ``fix``: one command or setting to copy.
``DoctorReport.exit_code`` is 0 when every browser store found trusts the CA, else 1.

Every path and tool location is a parameter (``DoctorEnv``) so tests point the checks at a
temporary HOME, system tree and environment; the defaults are this machine's.
"""

from __future__ import annotations

import enum
import importlib.util
import json
import os
import shlex
import shutil
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from launcher.errors import LauncherError
from launcher.trust import (
    DebianSystemStore,
    LocalCA,
    MacKeychainStore,
    NssStore,
    Runner,
    TrustStore,
    WindowsUserRootStore,
    WslWindowsHostStore,
    firefox_profiles,
    firefox_store,
    is_wsl,
    pem_file_holds,
    run_command,
)

__all__ = [
    "Area",
    "Check",
    "DoctorEnv",
    "DoctorReport",
    "DoctorRow",
    "diagnose",
    "running_browsers",
]

#: What the user types to trust the CA with this tool (``--store`` narrows it to one store).
TRUST_INSTALL = "flask-launcher trust install"
#: Where a container image keeps extra CAs for ``update-ca-certificates`` (Debian, Ubuntu, Alpine).
CONTAINER_CA_PATH = "/usr/local/share/ca-certificates/flask-launcher.crt"
#: The alias the doctor suggests for a Java keystore.
JAVA_ALIAS = "flask-https-launcher"


class Check(enum.StrEnum):
    """One row's verdict; the value is the word shown (CLI, JSON, the window's ``state`` property)."""

    TRUSTED = "trusted"
    NOT_TRUSTED = "not trusted"
    ABSENT = "absent"  # not on this system (no such browser, store, runtime): not an error
    ADVICE = "advice"  # nothing to check: how to do it (containers, restarts)
    ERROR = "error"  # asking failed


class Area(enum.StrEnum):
    """Which group a row belongs to."""

    BROWSER = "browser"
    SYSTEM = "system"
    RUNTIME = "runtime"
    RESTART = "restart"


@dataclass(frozen=True)
class DoctorRow:
    """One place a client looks for trust: its state, why, and the one fix to copy."""

    area: Area
    name: str
    state: Check
    detail: str = ""
    fix: str = ""  # a command or setting, ready to paste; "" when nothing needs fixing

    @property
    def counts(self) -> bool:
        """Whether this row decides the exit code: a browser store that exists (or errored)."""
        return self.area is Area.BROWSER and self.state in (Check.TRUSTED, Check.NOT_TRUSTED, Check.ERROR)

    def as_dict(self) -> dict[str, str | bool]:
        return {
            "area": self.area.value,
            "name": self.name,
            "state": self.state.value,
            "detail": self.detail,
            "fix": self.fix,
            "counts": self.counts,
        }


@dataclass
class DoctorReport:
    """Every row, and the exit code scripts use."""

    ca: LocalCA
    rows: list[DoctorRow] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every browser store found trusts the CA (vacuously true when none was found)."""
        return all(row.state is Check.TRUSTED for row in self.rows if row.counts)

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def area(self, area: Area) -> list[DoctorRow]:
        return [row for row in self.rows if row.area is area]

    def row(self, name_part: str) -> DoctorRow | None:
        """The first row whose name contains *name_part* (case-insensitive)."""
        return next((r for r in self.rows if name_part.lower() in r.name.lower()), None)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ca": {"path": str(self.ca.path), "name": self.ca.nickname, "sha256": self.ca.sha256},
            "ok": self.ok,
            "exit_code": self.exit_code,
            "rows": [row.as_dict() for row in self.rows],
        }

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2)

    def to_text(self) -> str:
        """The report for a terminal: a heading per area, one line per row, its fix indented."""
        lines = [f"CA: {self.ca.path}", f"  {self.ca.nickname}", f"  SHA-256 {self.ca.sha256}"]
        titles = {
            Area.BROWSER: "Browsers",
            Area.SYSTEM: "System stores",
            Area.RUNTIME: "Runtimes and tools",
            Area.RESTART: "Restart needed",
        }
        for area, title in titles.items():
            rows = self.area(area)
            if not rows:
                continue
            lines += ["", f"{title}:"]
            width = max(len(r.name) for r in rows)
            for r in rows:
                detail = f" ({r.detail})" if r.detail else ""
                lines.append(f"  {r.name:<{width}}  {r.state}{detail}")
                if r.fix:
                    lines.append(f"  {'':<{width}}  fix: {r.fix}")
        verdict = (
            "Every browser found trusts the CA."
            if self.ok
            else "Some browser does not trust the CA yet: see the fixes above."
        )
        lines += ["", verdict]
        return "\n".join(lines)


@dataclass(frozen=True)
class DoctorEnv:
    """Where the doctor looks.  The defaults are this machine's; tests point them elsewhere."""

    home: Path | None = None  # None: Path.home() at call time
    environ: Mapping[str, str] | None = None  # None: os.environ
    root: Path = Path("/")  # system files (/etc, /usr/lib) are read under this
    platform: str = sys.platform
    osrelease: Path | None = None  # None: is_wsl's default (/proc/sys/kernel/osrelease or its env var)
    proc: Path = Path("/proc")
    uid: int | None = None  # whose running browsers; None: os.getuid()
    java_keystore: Path | None = None  # None: the JDK's cacerts (keytool -cacerts)
    debian_store: DebianSystemStore | None = None  # None: the real one under root
    runner: Runner | None = None

    def home_dir(self) -> Path:
        return self.home or Path.home()

    def env(self) -> Mapping[str, str]:
        return os.environ if self.environ is None else self.environ

    def sys_path(self, path: str) -> Path:
        return self.root / path.lstrip("/")


# --- helpers ------------------------------------------------------------------------------------------


def _sudo() -> str:
    """``"sudo "`` unless we already are root (then sudo may not even exist)."""
    return "" if hasattr(os, "geteuid") and os.geteuid() == 0 else "sudo "


def _store_row(area: Area, store: TrustStore, ca: LocalCA, fix: str) -> DoctorRow:
    """A row from a ``TrustStore``'s own status (unavailable -> absent, with its reason)."""
    reason = store.unavailable_reason()
    if reason:
        return DoctorRow(area, store.name, Check.ABSENT, reason)
    try:
        trusted = store.status(ca)
    except LauncherError as exc:
        return DoctorRow(area, store.name, Check.ERROR, str(exc), fix)
    return DoctorRow(
        area, store.name, Check.TRUSTED if trusted else Check.NOT_TRUSTED, "", "" if trusted else fix
    )


# --- browsers -------------------------------------------------------------------------------------------

CHROMIUM_BINARIES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
FIREFOX_BINARIES = ("firefox", "firefox-esr", "firefox-bin")


def _chromium_row(ca: LocalCA, env: DoctorEnv) -> DoctorRow:
    db_dir = env.home_dir() / ".pki" / "nssdb"
    store = NssStore("Chromium/Chrome (NSS)", db_dir, create=True, runner=env.runner)
    fix = f"{TRUST_INSTALL} --store chromium"
    if not store.exists():
        path = env.env().get("PATH")
        installed = [b for b in CHROMIUM_BINARIES if shutil.which(b, path=path)]
        if not installed:
            return DoctorRow(Area.BROWSER, store.name, Check.ABSENT, f"no Chromium or Chrome, no {db_dir}")
        return DoctorRow(
            Area.BROWSER, store.name, Check.NOT_TRUSTED, f"{installed[0]} is installed; no {db_dir} yet", fix
        )
    return _store_row(Area.BROWSER, store, ca, fix)


def _firefox_prefs(profile: Path) -> bool:
    """Whether the profile sets ``security.enterprise_roots.enabled`` to true (prefs.js, user.js)."""
    for name in ("user.js", "prefs.js"):
        try:
            text = (profile / name).read_text(errors="replace")
        except OSError:
            continue
        for line in text.splitlines():
            compact = line.replace(" ", "")
            if compact.startswith('user_pref("security.enterprise_roots.enabled",true)'):
                return True
    return False


@dataclass(frozen=True)
class FirefoxPolicy:
    """What the Firefox enterprise policy files found say about certificates."""

    files: tuple[Path, ...] = ()
    installs_ca: Path | None = None  # the policies.json whose Certificates.Install holds our CA
    enterprise_roots: Path | None = None  # the policies.json with ImportEnterpriseRoots true


def _policy_files(env: DoctorEnv) -> list[Path]:
    candidates = [
        "/etc/firefox/policies/policies.json",
        "/etc/firefox-esr/policies/policies.json",
        "/usr/lib/firefox/distribution/policies.json",
        "/usr/lib/firefox-esr/distribution/policies.json",
        "/usr/lib64/firefox/distribution/policies.json",
        "/opt/firefox/distribution/policies.json",
        "/Applications/Firefox.app/Contents/Resources/distribution/policies.json",
    ]
    return [p for p in (env.sys_path(c) for c in candidates) if p.is_file()]


def _read_policy(ca: LocalCA, env: DoctorEnv) -> FirefoxPolicy:
    files = _policy_files(env)
    installs = roots = None
    for path in files:
        try:
            data = json.loads(path.read_text(errors="replace"))
            certs = data.get("policies", {}).get("Certificates", {})
        except (OSError, ValueError, AttributeError):
            continue
        if not isinstance(certs, dict):
            continue
        if certs.get("ImportEnterpriseRoots") is True and roots is None:
            roots = path
        for item in certs.get("Install", []) or []:
            # Firefox also looks a bare name up in its own certificate folders; paths are checked here.
            cert = Path(str(item))
            if cert.is_absolute() and pem_file_holds(env.sys_path(str(cert)), ca) and installs is None:
                installs = path
    return FirefoxPolicy(tuple(files), installs, roots)


def _policy_row(ca: LocalCA, env: DoctorEnv, policy: FirefoxPolicy) -> DoctorRow:
    name = "Firefox enterprise policy"
    install = json.dumps({"policies": {"Certificates": {"Install": [str(ca.path)]}}})
    target = "/etc/firefox/policies/policies.json"
    fix = f"sudo mkdir -p /etc/firefox/policies && echo {shlex.quote(install)} | sudo tee {target}"
    if policy.installs_ca:
        return DoctorRow(
            Area.BROWSER, name, Check.TRUSTED, f"{policy.installs_ca}: Certificates.Install has this CA"
        )
    if policy.enterprise_roots and env.platform in ("darwin", "win32"):
        return DoctorRow(
            Area.BROWSER,
            name,
            Check.ADVICE,
            f"{policy.enterprise_roots}: ImportEnterpriseRoots (Firefox trusts what the OS store trusts)",
        )
    detail = "no policies.json" if not policy.files else f"{', '.join(map(str, policy.files))}: not this CA"
    if policy.enterprise_roots:
        detail += "; ImportEnterpriseRoots is set but reads the OS store only on Windows and macOS"
    return DoctorRow(
        Area.BROWSER,
        name,
        Check.ADVICE,
        detail + "; the alternative to per-profile installs: every profile gets it at Firefox's next start",
        fix,
    )


def _firefox_rows(ca: LocalCA, env: DoctorEnv, policy: FirefoxPolicy) -> list[DoctorRow]:
    rows = []
    profiles = firefox_profiles(env.home_dir())
    for profile in profiles:
        fix = f"{TRUST_INSTALL} --store {shlex.quote(profile.name)}"
        prefs = " (security.enterprise_roots.enabled)" if _firefox_prefs(profile.path) else ""
        if not profile.has_db:
            rows.append(
                DoctorRow(
                    Area.BROWSER,
                    profile.name,
                    Check.NOT_TRUSTED,
                    f"no cert9.db in {profile.path} yet: start Firefox once with this profile{prefs}",
                    fix,
                )
            )
            continue
        row = _store_row(Area.BROWSER, firefox_store(profile, env.runner), ca, fix)
        if row.state is Check.NOT_TRUSTED and policy.installs_ca:
            row = DoctorRow(
                Area.BROWSER,
                row.name,
                Check.TRUSTED,
                f"through the enterprise policy {policy.installs_ca} (Certificates.Install)",
            )
        elif prefs:
            row = DoctorRow(row.area, row.name, row.state, (row.detail + prefs).strip(), row.fix)
        rows.append(row)
    if not profiles:
        path = env.env().get("PATH")
        installed = [b for b in FIREFOX_BINARIES if shutil.which(b, path=path)]
        detail = (
            f"{installed[0]} is installed but has no profile yet: start it once, then {TRUST_INSTALL}"
            if installed
            else "no Firefox profile under ~/.mozilla, ~/snap or ~/.var/app"
        )
        rows.append(DoctorRow(Area.BROWSER, "Firefox profiles", Check.ABSENT, detail))
    return rows


def _wsl_row(ca: LocalCA, env: DoctorEnv) -> DoctorRow:
    store = WslWindowsHostStore(env.osrelease, runner=env.runner)
    if not is_wsl(env.osrelease):
        return DoctorRow(Area.BROWSER, store.name, Check.ABSENT, "not WSL")
    return _store_row(Area.BROWSER, store, ca, f"{TRUST_INSTALL} --store windows")


# --- system stores ---------------------------------------------------------------------------------------


SystemResult = tuple[DoctorRow, bool | None, str]  # the row, trusted (None: absent), its bundle file


def _debian_row(ca: LocalCA, env: DoctorEnv) -> SystemResult:
    store = env.debian_store or DebianSystemStore(
        local_dir=env.sys_path("/usr/local/share/ca-certificates"),
        etc_dir=env.sys_path("/etc/ssl/certs"),
        runner=env.runner,
    )
    name = "Debian/Ubuntu (update-ca-certificates)"
    if store.unavailable_reason() or not store.bundle.exists():
        reason = store.unavailable_reason() or f"no {store.bundle}"
        return DoctorRow(Area.SYSTEM, name, Check.ABSENT, reason), None, ""
    trusted = store.status(ca)
    fix = "" if trusted else " && ".join(shlex.join(c) for c in store.install_commands(ca))
    state = Check.TRUSTED if trusted else Check.NOT_TRUSTED
    return DoctorRow(Area.SYSTEM, name, state, f"{store.bundle}", fix), trusted, str(store.bundle)


def _bundle_row(ca: LocalCA, env: DoctorEnv, name: str, marker: str, bundle: str, fix: str) -> SystemResult:
    """A p11-kit system store (Fedora, Arch): present when *marker* exists; trusted when the
    extracted *bundle* holds the CA."""
    if not env.sys_path(marker).is_dir():
        return DoctorRow(Area.SYSTEM, name, Check.ABSENT, f"no {marker}"), None, ""
    path = env.sys_path(bundle)
    trusted = pem_file_holds(path, ca)
    state = Check.TRUSTED if trusted else Check.NOT_TRUSTED
    return DoctorRow(Area.SYSTEM, name, state, str(path), "" if trusted else fix), trusted, str(path)


def _os_store_row(ca: LocalCA, env: DoctorEnv, store: TrustStore, platform: str) -> SystemResult:
    if env.platform != platform:
        words = "macOS" if platform == "darwin" else "Windows"
        return DoctorRow(Area.SYSTEM, store.name, Check.ABSENT, f"not {words}"), None, ""
    row = _store_row(Area.SYSTEM, store, ca, f"{TRUST_INSTALL} --store {store.name.split()[0].lower()}")
    known = row.state in (Check.TRUSTED, Check.NOT_TRUSTED)
    return row, (row.state is Check.TRUSTED) if known else None, ""


@dataclass(frozen=True)
class SystemVerdict:
    """The system stores that apply here, taken together."""

    trusted: bool | None  # None: no known system store applies
    fix: str  # the command that trusts the CA there ("" when trusted)
    bundle: str  # the system's PEM bundle, "" when it has none (macOS, Windows)


def _system_rows(ca: LocalCA, env: DoctorEnv) -> tuple[list[DoctorRow], SystemVerdict]:
    """The system-store rows, and the verdict of those that apply."""
    anchor = "/etc/pki/ca-trust/source/anchors/flask-https-launcher.crt"
    results = [
        _debian_row(ca, env),
        _bundle_row(
            ca,
            env,
            "Fedora/RHEL (update-ca-trust)",
            "/etc/pki/ca-trust/source/anchors",
            "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
            f"sudo install -m 0644 {shlex.quote(str(ca.path))} {anchor} && sudo update-ca-trust",
        ),
        _bundle_row(
            ca,
            env,
            "Arch (trust anchor)",
            "/etc/ca-certificates/trust-source/anchors",
            "/etc/ca-certificates/extracted/tls-ca-bundle.pem",
            f"sudo trust anchor --store {shlex.quote(str(ca.path))}",
        ),
        _os_store_row(ca, env, MacKeychainStore(runner=env.runner), "darwin"),
        _os_store_row(ca, env, WindowsUserRootStore(runner=env.runner), "win32"),
    ]
    rows = [row for row, _, _ in results]
    applying = [(row, trusted, bundle) for row, trusted, bundle in results if trusted is not None]
    if not applying:
        return rows, SystemVerdict(None, "", "")
    trusted = any(t for _, t, _ in applying)
    fix = "" if trusted else next((row.fix for row, _, _ in applying if row.fix), "")
    bundle = next((b for _, _, b in applying if b), "")
    return rows, SystemVerdict(trusted, fix, bundle)


# --- runtimes -------------------------------------------------------------------------------------------


def _env_bundle(env: DoctorEnv, names: Sequence[str], ca: LocalCA) -> tuple[str, str, bool] | None:
    """The first of the variables *names* that is set: (name, value, whether its file has the CA)."""
    environ = env.env()
    for var in names:
        value = environ.get(var)
        if value:
            return var, value, pem_file_holds(Path(value), ca)
    return None


def _python_rows(ca: LocalCA, env: DoctorEnv, verdict: SystemVerdict) -> list[DoctorRow]:
    truststore = importlib.util.find_spec("truststore") is not None
    system = bool(verdict.trusted)
    good_file = verdict.bundle if system and verdict.bundle else str(ca.path)
    rows = []
    for name, variables in (
        ("Python requests", ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")),
        ("Python httpx / ssl", ("SSL_CERT_FILE",)),
    ):
        fix = f"export {variables[0]}={shlex.quote(good_file)}"
        if not system:
            fix += "   # only this CA; or: pip install truststore (then truststore.inject_into_ssl())"
        found = _env_bundle(env, variables, ca)
        if found:
            var, value, has = found
            if has:
                rows.append(DoctorRow(Area.RUNTIME, name, Check.TRUSTED, f"{var}={value} holds the CA"))
            else:
                rows.append(
                    DoctorRow(Area.RUNTIME, name, Check.NOT_TRUSTED, f"{var}={value} lacks the CA", fix)
                )
            continue
        if truststore:
            state = Check.TRUSTED if system else Check.NOT_TRUSTED
            words = "trusts it" if system else "does not trust it"
            rows.append(
                DoctorRow(
                    Area.RUNTIME,
                    name,
                    state,
                    "truststore is installed: with truststore.inject_into_ssl() it uses the system"
                    f" store, which {words}",
                    "" if system else fix,
                )
            )
            continue
        default = (
            "certifi's bundle" if name == "Python requests" else "OpenSSL's default file or certifi (httpx)"
        )
        rows.append(
            DoctorRow(
                Area.RUNTIME, name, Check.NOT_TRUSTED, f"no {' or '.join(variables)}: uses {default}", fix
            )
        )
    return rows


def _node_row(ca: LocalCA, env: DoctorEnv) -> DoctorRow:
    fix = f"export NODE_EXTRA_CA_CERTS={shlex.quote(str(ca.path))}"
    found = _env_bundle(env, ("NODE_EXTRA_CA_CERTS",), ca)
    if found:
        var, value, has = found
        state = Check.TRUSTED if has else Check.NOT_TRUSTED
        return DoctorRow(
            Area.RUNTIME,
            "Node",
            state,
            f"{var}={value} {'holds' if has else 'lacks'} the CA",
            "" if has else fix,
        )
    if not shutil.which("node", path=env.env().get("PATH")):
        return DoctorRow(
            Area.RUNTIME,
            "Node",
            Check.ABSENT,
            "node not found (set NODE_EXTRA_CA_CERTS when you use it)",
            fix,
        )
    return DoctorRow(Area.RUNTIME, "Node", Check.NOT_TRUSTED, "NODE_EXTRA_CA_CERTS is not set", fix)


def _tool_rows(ca: LocalCA, env: DoctorEnv, verdict: SystemVerdict) -> list[DoctorRow]:
    system, system_fix = verdict.trusted, verdict.fix
    rows = []
    path = env.env().get("PATH")
    for tool, flag in (("curl", "--cacert"), ("wget", "--ca-certificate")):
        fix = system_fix or f"{tool} {flag} {shlex.quote(str(ca.path))} URL"
        if not shutil.which(tool, path=path):
            rows.append(DoctorRow(Area.RUNTIME, tool, Check.ABSENT, f"{tool} not found"))
        elif system is None:
            rows.append(DoctorRow(Area.RUNTIME, tool, Check.NOT_TRUSTED, "no known system store here", fix))
        elif system:
            rows.append(DoctorRow(Area.RUNTIME, tool, Check.TRUSTED, "through the system store"))
        else:
            rows.append(
                DoctorRow(
                    Area.RUNTIME,
                    tool,
                    Check.NOT_TRUSTED,
                    f"the system store does not trust it (or: {tool} {flag} {ca.path})",
                    fix,
                )
            )
    return rows


def _java_row(ca: LocalCA, env: DoctorEnv) -> DoctorRow:
    keytool = shutil.which("keytool", path=env.env().get("PATH"))
    name = "Java (keytool)"
    if not keytool:
        return DoctorRow(Area.RUNTIME, name, Check.ABSENT, "no JDK (keytool not found)")
    where = ["-keystore", str(env.java_keystore)] if env.java_keystore else ["-cacerts"]
    shown = f"-keystore {shlex.quote(str(env.java_keystore))}" if env.java_keystore else "-cacerts"
    fix = (
        f"{_sudo()}keytool -importcert {shown} -storepass changeit -noprompt -alias {JAVA_ALIAS}"
        f" -file {shlex.quote(str(ca.path))}"
    )
    runner = env.runner or run_command
    try:
        proc = runner([keytool, "-list", *where, "-storepass", "changeit"], None)
    except LauncherError as exc:
        return DoctorRow(Area.RUNTIME, name, Check.ERROR, str(exc), fix)
    text = (proc.stdout or b"").decode(errors="replace")
    if proc.returncode != 0:
        tail = (text or (proc.stderr or b"").decode(errors="replace")).strip().splitlines()
        return DoctorRow(
            Area.RUNTIME,
            name,
            Check.ERROR,
            f"keytool -list {shown}: {tail[-1] if tail else proc.returncode}",
            fix,
        )
    if ca.sha256 in text.upper():
        return DoctorRow(Area.RUNTIME, name, Check.TRUSTED, f"{shown} holds the CA")
    return DoctorRow(Area.RUNTIME, name, Check.NOT_TRUSTED, f"{shown} lacks the CA", fix)


def _container_row(ca: LocalCA) -> DoctorRow:
    return DoctorRow(
        Area.RUNTIME,
        "Containers",
        Check.ADVICE,
        "a container has its own store: mount the CA and update it at start (Debian/Ubuntu/Alpine images)",
        f"docker run -v {shlex.quote(str(ca.path))}:{CONTAINER_CA_PATH}:ro IMAGE"
        " sh -c 'update-ca-certificates && exec YOUR-COMMAND'",
    )


# --- restarts -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunningBrowser:
    family: str  # "Chromium/Chrome" or "Firefox"
    name: str  # the process name
    pids: tuple[int, ...]


def running_browsers(proc: Path = Path("/proc"), uid: int | None = None) -> list[RunningBrowser]:
    """The browsers this user runs now (main processes only: helpers carry ``--type=`` or
    ``-contentproc``), read from ``/proc/<pid>/comm``, ``cmdline`` and the owner of the folder."""
    uid = os.getuid() if uid is None else uid
    found: dict[tuple[str, str], list[int]] = {}
    try:
        entries = list(proc.iterdir())
    except OSError:
        return []
    for entry in entries:
        if not entry.name.isdigit():
            continue
        try:
            if entry.stat().st_uid != uid:
                continue
            comm = (entry / "comm").read_text(errors="replace").strip()
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        args = [a.decode(errors="replace") for a in cmdline if a]
        if any(a.startswith("--type=") or a == "-contentproc" for a in args):
            continue
        exe = Path(args[0]).name if args else comm
        names = {comm, exe}
        if names & {"chromium", "chrome", "google-chrome", "chromium-browser"}:
            family = "Chromium/Chrome"
        elif names & {"firefox", "firefox-esr", "firefox-bin"}:
            family = "Firefox"
        else:
            continue
        found.setdefault((family, comm), []).append(int(entry.name))
    return [RunningBrowser(f, n, tuple(sorted(p))) for (f, n), p in sorted(found.items())]


def _restart_rows(env: DoctorEnv) -> list[DoctorRow]:
    running = running_browsers(env.proc, env.uid)
    if not running:
        return [DoctorRow(Area.RESTART, "Running browsers", Check.ADVICE, "none running: nothing to restart")]
    rows = []
    for browser in running:
        pids = ", ".join(map(str, browser.pids))
        if browser.family == "Firefox":
            rows.append(
                DoctorRow(
                    Area.RESTART,
                    f"{browser.name} (pid {pids})",
                    Check.ADVICE,
                    "no restart needed: a running Firefox takes a newly trusted CA at once; reload the page",
                )
            )
        else:
            rows.append(
                DoctorRow(
                    Area.RESTART,
                    f"{browser.name} (pid {pids})",
                    Check.ADVICE,
                    "restart it after trusting: it keeps refusing a site it already refused until the"
                    " browser process ends (every window)",
                    f"kill {' '.join(map(str, browser.pids))}   # then start {browser.name} again",
                )
            )
    return rows


# --- all of it ------------------------------------------------------------------------------------------


def diagnose(ca: LocalCA, env: DoctorEnv | None = None) -> DoctorReport:
    """Every row for *ca*, read now (runs certutil, keytool...: call it off a GUI thread)."""
    env = env or DoctorEnv()
    report = DoctorReport(ca)
    policy = _read_policy(ca, env)
    if env.platform != "win32":
        report.rows.append(_chromium_row(ca, env))
        report.rows += _firefox_rows(ca, env, policy)
    report.rows.append(_policy_row(ca, env, policy))
    report.rows.append(_wsl_row(ca, env))
    system_rows, verdict = _system_rows(ca, env)
    report.rows += system_rows
    report.rows += _python_rows(ca, env, verdict)
    report.rows.append(_node_row(ca, env))
    report.rows += _tool_rows(ca, env, verdict)
    report.rows.append(_java_row(ca, env))
    report.rows.append(_container_row(ca))
    report.rows += _restart_rows(env)
    return report
