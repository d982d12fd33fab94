"""launcher.trustdoctor and ``flask-launcher trust doctor``.

Real parts: NSS databases and Firefox profiles (classic, ESR, Snap, Flatpak, ``profiles.ini``) made
in a temporary HOME with real ``certutil``; the Debian system store with a real
``update-ca-certificates`` in a temporary tree; Fedora/Arch/Firefox-policy files in a temporary
root; runtimes through environment variables given to the doctor; a real ``keytool`` on a
temporary keystore; real processes named like browsers for the restart rows.  Only the Windows side
of WSL is a stand-in (no Windows here): a ``certutil.exe`` and a ``wslpath`` on PATH that keep the
"Windows store" in a file; the Linux side (detection, the store, the CLI) is the real one.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from launcher.certs import CertStore
from launcher.trust import (
    DebianSystemStore,
    LocalCA,
    WslWindowsHostStore,
    chromium_store,
    default_stores,
    firefox_profiles,
    is_wsl,
)
from launcher.trustdoctor import Area, Check, DoctorEnv, diagnose, running_browsers

NOT_WSL = "6.1.0-28-amd64\n"
WSL2 = "5.15.167.4-microsoft-standard-WSL2\n"


@pytest.fixture
def ca(tmp_path: Path) -> LocalCA:
    store = CertStore(tmp_path / "certs")
    store.ensure_ca()
    return LocalCA.load(store.ca_cert_path)


@pytest.fixture
def osrelease(tmp_path: Path) -> Path:
    """A kernel release file that is not WSL's (the doctor is pointed at it)."""
    path = tmp_path / "osrelease"
    path.write_text(NOT_WSL)
    return path


def make_profile(root: Path, name: str, *, db: bool = True) -> Path:
    profile = root / name
    profile.mkdir(parents=True)
    if db:
        subprocess.run(["certutil", "-d", f"sql:{profile}", "-N", "--empty-password"], check=True, timeout=30)
    return profile


def doctor_env(tmp_path: Path, osrelease: Path, **kw: object) -> DoctorEnv:
    """The doctor pointed at a temporary root (no /etc files), the test's environment and no
    running browsers (an empty /proc stand-in is never used: ``proc`` defaults to the real one)."""
    root = tmp_path / "root"
    root.mkdir(exist_ok=True)
    kw.setdefault("environ", {"PATH": os.environ.get("PATH", "")})
    kw.setdefault("root", root)
    kw.setdefault("platform", "linux")
    return DoctorEnv(osrelease=osrelease, **kw)  # type: ignore[arg-type]


# --- browsers: real NSS databases and Firefox profiles -----------------------------------------------


def test_every_firefox_root_and_chromium_then_trusted(
    home: Path, tmp_path: Path, certutil: str, ca: LocalCA, osrelease: Path
) -> None:
    classic = make_profile(home / ".mozilla" / "firefox", "aaaa.default-release")
    esr = make_profile(home / ".mozilla" / "firefox-esr", "bbbb.default-esr")
    snap = make_profile(home / "snap" / "firefox" / "common" / ".mozilla" / "firefox", "cccc.default")
    flatpak = make_profile(home / ".var" / "app" / "org.mozilla.firefox" / ".mozilla" / "firefox", "dddd.x")
    # a profile outside its root, found only through profiles.ini (IsRelative=0)
    elsewhere = make_profile(tmp_path / "elsewhere", "eeee.work")
    (home / ".mozilla" / "firefox" / "profiles.ini").write_text(
        f"[Profile0]\nName=work\nIsRelative=0\nPath={elsewhere}\n\n[General]\nVersion=2\n"
    )
    chromium_store().install(ca)  # makes ~/.pki/nssdb; untrusted again below
    chromium_store().uninstall(ca)
    env = doctor_env(tmp_path, osrelease)

    report = diagnose(ca, env)
    browsers = {r.name: r for r in report.area(Area.BROWSER)}
    names = [
        "Chromium/Chrome (NSS)",
        "Firefox profile eeee.work",
        "Firefox profile aaaa.default-release",
        "Firefox ESR profile bbbb.default-esr",
        "Firefox Snap profile cccc.default",
        "Firefox Flatpak profile dddd.x",
    ]
    assert all(browsers[n].state is Check.NOT_TRUSTED for n in names), browsers
    assert browsers["Firefox Snap profile cccc.default"].fix == (
        "flask-launcher trust install --store 'Firefox Snap profile cccc.default'"
    )
    assert report.exit_code == 1 and not report.ok
    assert {p.path for p in firefox_profiles()} == {classic, esr, snap, flatpak, elsewhere}

    # `trust install` (the real CLI) reaches every one of them
    from launcher.cli import main

    cert_dir = str(ca.path.parent)
    assert (
        main(["trust", "install", "--cert-dir", cert_dir, "--store", "chromium", "--store", "firefox"]) == 0
    )
    report = diagnose(ca, env)
    assert all(r.state is Check.TRUSTED and not r.fix for r in report.rows if r.name in names), report.rows
    assert report.exit_code == 0 and report.ok


def test_profile_without_database_counts_as_not_trusted(
    home: Path, tmp_path: Path, certutil: str, ca: LocalCA, osrelease: Path
) -> None:
    root = home / ".mozilla" / "firefox"
    make_profile(root, "ffff.new", db=False)
    (root / "profiles.ini").write_text("[Profile0]\nName=new\nIsRelative=1\nPath=ffff.new\n")
    chromium_store().install(ca)
    row = diagnose(ca, doctor_env(tmp_path, osrelease)).row("ffff.new")
    assert row is not None and row.state is Check.NOT_TRUSTED and row.counts
    assert "start Firefox once" in row.detail
    assert diagnose(ca, doctor_env(tmp_path, osrelease)).exit_code == 1


def test_no_browser_at_all_is_absent_and_exit_zero(
    home: Path, tmp_path: Path, ca: LocalCA, osrelease: Path
) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    report = diagnose(ca, doctor_env(tmp_path, osrelease, environ={"PATH": str(empty)}))
    chromium = report.row("Chromium")
    assert chromium is not None and chromium.state is Check.ABSENT and not chromium.counts
    firefox = report.row("Firefox profiles")
    assert firefox is not None and firefox.state is Check.ABSENT
    assert report.exit_code == 0  # nothing found, nothing untrusted


def test_chromium_installed_without_database_is_not_trusted(
    home: Path, tmp_path: Path, ca: LocalCA, osrelease: Path
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "chromium").symlink_to(shutil.which("true") or "/bin/true")
    row = diagnose(ca, doctor_env(tmp_path, osrelease, environ={"PATH": str(bin_dir)})).row("Chromium")
    assert row is not None and row.state is Check.NOT_TRUSTED
    assert row.fix == "flask-launcher trust install --store chromium"


def test_firefox_enterprise_policy(
    home: Path, tmp_path: Path, certutil: str, ca: LocalCA, osrelease: Path
) -> None:
    make_profile(home / ".mozilla" / "firefox", "gggg.default")
    env = doctor_env(tmp_path, osrelease)
    row = diagnose(ca, env).row("enterprise policy")
    assert row is not None and row.state is Check.ADVICE and "no policies.json" in row.detail
    assert '"Install": ["' + str(ca.path) in row.fix and "/etc/firefox/policies/policies.json" in row.fix

    policies = env.root / "etc" / "firefox" / "policies"
    policies.mkdir(parents=True)
    shared = env.root / "usr" / "local" / "share" / "dev-ca.pem"
    shared.parent.mkdir(parents=True)
    shutil.copy(ca.path, shared)
    (policies / "policies.json").write_text(
        json.dumps({"policies": {"Certificates": {"ImportEnterpriseRoots": True, "Install": ["/nope.pem"]}}})
    )
    row = diagnose(ca, env).row("enterprise policy")
    assert row is not None and row.state is Check.ADVICE and "only on Windows and macOS" in row.detail
    (policies / "policies.json").write_text(
        json.dumps({"policies": {"Certificates": {"Install": ["/usr/local/share/dev-ca.pem"]}}})
    )
    report = diagnose(ca, env)
    assert report.row("enterprise policy").state is Check.TRUSTED  # type: ignore[union-attr]
    profile = report.row("gggg.default")
    assert profile is not None and profile.state is Check.TRUSTED and "enterprise policy" in profile.detail
    # the policy does not reach Chromium
    assert report.row("Chromium").state is not Check.TRUSTED  # type: ignore[union-attr]


def test_profile_enterprise_roots_pref_is_reported(
    home: Path, tmp_path: Path, certutil: str, ca: LocalCA, osrelease: Path
) -> None:
    profile = make_profile(home / ".mozilla" / "firefox", "hhhh.default")
    (profile / "user.js").write_text('user_pref("security.enterprise_roots.enabled", true);\n')
    row = diagnose(ca, doctor_env(tmp_path, osrelease)).row("hhhh.default")
    assert row is not None and "security.enterprise_roots.enabled" in row.detail


# --- system stores ------------------------------------------------------------------------------------


@pytest.fixture
def debian_store(tmp_path: Path) -> DebianSystemStore:
    """The Debian store in a temporary tree with a real update-ca-certificates (as root: it runs)."""
    if not shutil.which("update-ca-certificates", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin"):
        pytest.skip("update-ca-certificates is missing: apt-get install ca-certificates")
    tree = {k: tmp_path / "sys" / k for k in ("local", "etc", "share")}
    for path in tree.values():
        path.mkdir(parents=True)
    conf = tmp_path / "sys" / "ca-certificates.conf"
    conf.write_text("")
    store = DebianSystemStore(
        local_dir=tree["local"],
        etc_dir=tree["etc"],
        update_args=[
            "--certsconf", str(conf), "--certsdir", str(tree["share"]), "--localcertsdir", str(tree["local"]),
            "--etccertsdir", str(tree["etc"]), "--hooksdir", str(tmp_path / "sys" / "no-hooks"),
        ],
        as_root=True,
    )  # fmt: skip
    store.install(make_other_ca(tmp_path))  # someone else's CA: the bundle exists, without ours
    return store


def make_other_ca(tmp_path: Path) -> LocalCA:
    store = CertStore(tmp_path / "other-ca")
    store.ensure_ca()
    return LocalCA.load(store.ca_cert_path)


def test_debian_store_drives_curl_wget_and_python_fixes(
    home: Path, tmp_path: Path, ca: LocalCA, osrelease: Path, debian_store: DebianSystemStore
) -> None:
    env = doctor_env(tmp_path, osrelease, debian_store=debian_store)
    report = diagnose(ca, env)
    debian = report.row("Debian/Ubuntu")
    assert debian is not None and debian.state is Check.NOT_TRUSTED and "update-ca-certificates" in debian.fix
    assert str(debian_store.file_for(ca)) in debian.fix
    for other in ("Fedora", "Arch", "macOS", "Windows user Root"):
        assert report.row(other).state is Check.ABSENT  # type: ignore[union-attr]
    curl = report.row("curl")
    if shutil.which("curl"):
        assert curl is not None and curl.state is Check.NOT_TRUSTED and curl.fix == debian.fix
    python = report.row("Python requests")
    assert python is not None and python.fix.startswith(f"export REQUESTS_CA_BUNDLE={ca.path}")

    debian_store.install(ca)  # the real update-ca-certificates, in the temporary tree
    report = diagnose(ca, env)
    assert report.row("Debian/Ubuntu").state is Check.TRUSTED  # type: ignore[union-attr]
    if shutil.which("curl"):
        assert report.row("curl").state is Check.TRUSTED  # type: ignore[union-attr]
    python = report.row("Python requests")
    assert python is not None and python.fix == f"export REQUESTS_CA_BUNDLE={debian_store.bundle}"


@pytest.mark.parametrize(
    ("name", "marker", "bundle", "command"),
    [
        (
            "Fedora/RHEL",
            "etc/pki/ca-trust/source/anchors",
            "etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
            "update-ca-trust",
        ),
        (
            "Arch",
            "etc/ca-certificates/trust-source/anchors",
            "etc/ca-certificates/extracted/tls-ca-bundle.pem",
            "trust anchor --store",
        ),
    ],
)
def test_p11kit_system_stores(
    home: Path,
    tmp_path: Path,
    ca: LocalCA,
    osrelease: Path,
    name: str,
    marker: str,
    bundle: str,
    command: str,
) -> None:
    env = doctor_env(
        tmp_path, osrelease, debian_store=DebianSystemStore(local_dir=tmp_path / "x", etc_dir=tmp_path / "y")
    )
    assert diagnose(ca, env).row(name).state is Check.ABSENT  # type: ignore[union-attr]
    (env.root / marker).mkdir(parents=True)
    (env.root / bundle).parent.mkdir(parents=True, exist_ok=True)
    other = make_other_ca(tmp_path)
    (env.root / bundle).write_bytes(other.path.read_bytes())
    row = diagnose(ca, env).row(name)
    assert (
        row is not None and row.state is Check.NOT_TRUSTED and command in row.fix and str(ca.path) in row.fix
    )
    (env.root / bundle).write_bytes(other.path.read_bytes() + ca.path.read_bytes())
    report = diagnose(ca, env)
    assert report.row(name).state is Check.TRUSTED  # type: ignore[union-attr]
    python = report.row("Python httpx")
    assert python is not None and python.fix == f"export SSL_CERT_FILE={env.root / bundle}"


# --- runtimes -----------------------------------------------------------------------------------------


def test_runtime_variables(home: Path, tmp_path: Path, ca: LocalCA, osrelease: Path) -> None:
    with_ca = tmp_path / "with-ca.pem"
    with_ca.write_bytes(make_other_ca(tmp_path).path.read_bytes() + ca.path.read_bytes())
    without = tmp_path / "without.pem"
    without.write_bytes(make_other_ca(tmp_path / "2").path.read_bytes())
    path = os.environ.get("PATH", "")
    env = doctor_env(
        tmp_path,
        osrelease,
        environ={
            "PATH": path,
            "REQUESTS_CA_BUNDLE": str(with_ca),
            "SSL_CERT_FILE": str(without),
            "NODE_EXTRA_CA_CERTS": str(with_ca),
        },
    )
    report = diagnose(ca, env)
    requests_row, httpx_row, node = (
        report.row("Python requests"),
        report.row("Python httpx"),
        report.row("Node"),
    )
    assert requests_row is not None and requests_row.state is Check.TRUSTED and not requests_row.fix
    assert f"REQUESTS_CA_BUNDLE={with_ca} holds the CA" == requests_row.detail
    assert (
        httpx_row is not None and httpx_row.state is Check.NOT_TRUSTED and "lacks the CA" in httpx_row.detail
    )
    assert httpx_row.fix.startswith("export SSL_CERT_FILE=")
    assert node is not None and node.state is Check.TRUSTED

    report = diagnose(
        ca, doctor_env(tmp_path, osrelease, environ={"PATH": path, "CURL_CA_BUNDLE": str(with_ca)})
    )
    assert report.row("Python requests").detail.startswith("CURL_CA_BUNDLE=")  # type: ignore[union-attr]
    node = report.row("Node")
    assert node is not None and node.fix == f"export NODE_EXTRA_CA_CERTS={ca.path}"
    assert node.state is (Check.NOT_TRUSTED if shutil.which("node") else Check.ABSENT)
    plain = report.row("Python httpx")
    assert plain is not None and plain.state is Check.NOT_TRUSTED
    try:
        import truststore  # noqa: F401
    except ImportError:
        assert "no SSL_CERT_FILE" in plain.detail and "pip install truststore" in plain.fix
    else:
        assert "truststore is installed" in plain.detail
    containers = report.row("Containers")
    assert containers is not None and containers.state is Check.ADVICE
    assert f"-v {ca.path}:/usr/local/share/ca-certificates/flask-launcher.crt:ro" in containers.fix
    assert "update-ca-certificates" in containers.fix and not containers.counts


def test_java_keystore_with_real_keytool(home: Path, tmp_path: Path, ca: LocalCA, osrelease: Path) -> None:
    keytool = shutil.which("keytool")
    if keytool is None:
        row = diagnose(ca, doctor_env(tmp_path, osrelease)).row("Java")
        assert row is not None and row.state is Check.ABSENT
        pytest.skip("no JDK here (keytool): apt-get install default-jdk-headless to test the keystore")
    keystore = tmp_path / "cacerts.p12"
    other = make_other_ca(tmp_path)

    def add(cert: LocalCA, alias: str) -> None:
        subprocess.run(
            [keytool, "-importcert", "-keystore", str(keystore), "-storepass", "changeit", "-noprompt",
             "-alias", alias, "-file", str(cert.path)],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip

    add(other, "someone-else")
    env = doctor_env(tmp_path, osrelease, java_keystore=keystore)
    row = diagnose(ca, env).row("Java")
    assert row is not None and row.state is Check.NOT_TRUSTED
    assert f"keytool -importcert -keystore {keystore}" in row.fix and f"-file {ca.path}" in row.fix
    add(ca, "flask-https-launcher")
    row = diagnose(ca, env).row("Java")
    assert row is not None and row.state is Check.TRUSTED
    (keystore).write_bytes(b"not a keystore")
    row = diagnose(ca, env).row("Java")
    assert row is not None and row.state is Check.ERROR


# --- WSL: the real Linux side, a stand-in Windows side ----------------------------------------------------

FAKE_CERTUTIL = """#!{python}
# Stand-in for Windows' certutil.exe (the Windows side of WSL interop): keeps the user's Root store
# as SHA-1 thumbprints in {state}, and prints them as Windows' certutil -store does.
import base64, hashlib, pathlib, re, sys
state = pathlib.Path({state!r})
thumbs = state.read_text().split() if state.exists() else []
args = sys.argv[1:]
if args[:3] == ["-user", "-addstore", "Root"]:
    unix = args[3].replace("C:\\\\fake", "").replace("\\\\", "/")
    pem = pathlib.Path(unix).read_bytes()
    body = re.search(rb"-----BEGIN CERTIFICATE-----(.+?)-----END", pem, re.S).group(1)
    der = base64.b64decode(b"".join(body.split()))
    thumbs.append(hashlib.sha1(der).hexdigest())
    print("Root\\nCertificate added to store.\\nCertUtil: -addstore command completed successfully.")
elif args[:3] == ["-user", "-delstore", "Root"]:
    thumbs = [t for t in thumbs if t.upper() != args[3].upper()]
    print("CertUtil: -delstore command completed successfully.")
elif args[:3] == ["-user", "-store", "Root"]:
    for i, t in enumerate(thumbs):
        spaced = " ".join(t[j:j + 2] for j in range(0, 40, 2)) if i % 2 else t
        print(f"================ Certificate {{i}} ================\\nCert Hash(sha1): {{spaced}}")
    print("CertUtil: -store command completed successfully.")
else:
    sys.exit(2)
state.write_text("\\n".join(thumbs))
"""

FAKE_WSLPATH = """#!/bin/sh
# Stand-in for wslpath -w: /a/b -> C:\\fake\\a\\b
[ "$1" = -w ] || exit 2
printf 'C:\\\\fake%s\\n' "$(printf %s "$2" | sed 's:/:\\\\:g')"
"""


@pytest.fixture
def windows_side(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """certutil.exe and wslpath stand-ins on PATH; yields the file holding the "Windows" store."""
    bin_dir = tmp_path / "wsl-bin"
    bin_dir.mkdir()
    state = tmp_path / "windows-root-store"
    for name, text in (
        ("certutil.exe", FAKE_CERTUTIL.format(python=sys.executable, state=str(state))),
        ("wslpath", FAKE_WSLPATH),
    ):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(stat.S_IRWXU)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    yield state


def test_wsl_detection(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    release = tmp_path / "osrelease"
    release.write_text(WSL2)
    assert is_wsl(release)
    release.write_text("4.4.0-19041-Microsoft\n")  # WSL 1
    assert is_wsl(release)
    release.write_text(NOT_WSL)
    assert not is_wsl(release)
    assert not is_wsl(tmp_path / "missing")
    monkeypatch.setenv("FLASK_LAUNCHER_OSRELEASE", str(release))
    assert not is_wsl()
    release.write_text(WSL2)
    assert is_wsl()


def test_wsl_install_status_uninstall_through_the_cli(
    home: Path,
    tmp_path: Path,
    certutil: str,
    monkeypatch: pytest.MonkeyPatch,
    windows_side: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from launcher.cli import main

    release = tmp_path / "osrelease"
    release.write_text(NOT_WSL)
    monkeypatch.setenv("FLASK_LAUNCHER_OSRELEASE", str(release))
    assert not any(isinstance(s, WslWindowsHostStore) for s in default_stores("linux"))
    release.write_text(WSL2)
    assert isinstance(default_stores("linux")[-1], WslWindowsHostStore)

    cert_dir = tmp_path / "certs"
    CertStore(cert_dir).ensure_ca()
    ca = LocalCA.load(cert_dir / "ca.pem")
    store = WslWindowsHostStore()
    assert store.available, store.reason
    assert store.install_commands(ca) == [
        ["certutil.exe", "-user", "-addstore", "Root", "C:\\fake" + str(ca.path).replace("/", "\\")]
    ]
    report = diagnose(ca, DoctorEnv(platform="linux"))
    wsl = report.row("Windows host")
    assert wsl is not None and wsl.state is Check.NOT_TRUSTED and wsl.counts
    assert wsl.fix == "flask-launcher trust install --store windows"

    assert main(["trust", "install", "--cert-dir", str(cert_dir), "--store", "windows"]) == 0
    out = capsys.readouterr().out
    assert "$ certutil.exe -user -addstore Root" in out and "now trusts" in out, out
    assert windows_side.read_text().upper().split() == [ca.sha1]
    # a second CA in the store, listed in Windows' older spaced form, does not confuse status
    other = make_other_ca(tmp_path)
    store.install(other)
    assert store.status(ca) and store.status(other)
    assert diagnose(ca, DoctorEnv(platform="linux")).row("Windows host").state is Check.TRUSTED  # type: ignore[union-attr]
    assert main(["trust", "status", "--cert-dir", str(cert_dir), "--store", "windows"]) == 0
    assert "Windows host user Root store (WSL)  trusted" in capsys.readouterr().out

    assert main(["trust", "uninstall", "--cert-dir", str(cert_dir), "--store", "windows"]) == 0
    assert "removed" in capsys.readouterr().out
    assert not store.status(ca) and store.status(other)
    assert windows_side.read_text().upper().split() == [other.sha1]


def test_wsl_without_interop_is_absent_with_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ca: LocalCA
) -> None:
    release = tmp_path / "osrelease"
    release.write_text(WSL2)
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    store = WslWindowsHostStore(release)
    assert store.reason.startswith("certutil.exe was not found: WSL interop is off")
    row = diagnose(ca, DoctorEnv(osrelease=release, platform="linux", environ={"PATH": str(empty)})).row(
        "Windows host"
    )
    assert row is not None and row.state is Check.ABSENT


# --- running browsers ----------------------------------------------------------------------------------


@pytest.fixture
def fake_named_processes(tmp_path: Path) -> Iterator[dict[str, subprocess.Popen[bytes]]]:
    """Real processes whose names are chromium and firefox-esr (a shell under those names), plus a
    chromium helper (``--type=renderer``), which is not a browser to restart."""
    sh = shutil.which("sh") or "/bin/sh"
    procs: dict[str, subprocess.Popen[bytes]] = {}
    for name, extra in (("chromium", []), ("firefox-esr", []), ("helper/chromium", ["--type=renderer"])):
        link = tmp_path / "proc-bin" / name
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(sh)
        procs[name] = subprocess.Popen([str(link), "-c", "sleep 30; :", "x", *extra])
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # until each has exec'd under its new name
        if all(
            Path(f"/proc/{p.pid}/comm").read_text().strip() in ("chromium", "firefox-esr")
            for p in procs.values()
        ):
            break
        time.sleep(0.02)
    yield procs
    for proc in procs.values():
        proc.kill()
        proc.wait(5)


def test_running_browsers_and_restart_rows(
    tmp_path: Path, ca: LocalCA, osrelease: Path, fake_named_processes: dict[str, subprocess.Popen[bytes]]
) -> None:
    running = {(b.family, b.name): b.pids for b in running_browsers()}
    chromium_pid = fake_named_processes["chromium"].pid
    helper_pid = fake_named_processes["helper/chromium"].pid
    assert chromium_pid in running[("Chromium/Chrome", "chromium")]
    assert helper_pid not in running[("Chromium/Chrome", "chromium")]
    assert fake_named_processes["firefox-esr"].pid in running[("Firefox", "firefox-esr")]
    assert running_browsers(uid=os.getuid() + 12345) == []  # another user's browsers are not ours

    rows = diagnose(ca, doctor_env(tmp_path, osrelease)).area(Area.RESTART)
    chromium = next(r for r in rows if r.name.startswith("chromium"))
    firefox = next(r for r in rows if r.name.startswith("firefox-esr"))
    assert str(chromium_pid) in chromium.name and "restart" in chromium.detail
    assert (
        chromium.fix.startswith("kill ")
        and str(chromium_pid) in chromium.fix
        and str(helper_pid) not in chromium.fix
    )
    assert "no restart needed" in firefox.detail and not firefox.fix


def test_nothing_running_says_so(tmp_path: Path, ca: LocalCA, osrelease: Path) -> None:
    empty_proc = tmp_path / "proc"
    empty_proc.mkdir()
    rows = diagnose(ca, doctor_env(tmp_path, osrelease, proc=empty_proc)).area(Area.RESTART)
    assert [(r.state, r.detail) for r in rows] == [(Check.ADVICE, "none running: nothing to restart")]


# --- the CLI: text, JSON, exit codes -------------------------------------------------------------------


def test_cli_doctor_exit_codes_and_json(
    home: Path,
    tmp_path: Path,
    certutil: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from launcher.cli import main

    release = tmp_path / "osrelease"
    release.write_text(NOT_WSL)
    monkeypatch.setenv("FLASK_LAUNCHER_OSRELEASE", str(release))
    cert_dir = str(tmp_path / "certs")
    assert main(["trust", "doctor", "--cert-dir", cert_dir]) == 1
    assert "No CA in" in capsys.readouterr().out
    assert main(["trust", "doctor", "--cert-dir", cert_dir, "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["ca"] is None

    CertStore(cert_dir).ensure_ca()
    make_profile(home / ".mozilla" / "firefox", "iiii.default")
    chromium_store().install(LocalCA.load(Path(cert_dir) / "ca.pem"))
    assert main(["trust", "doctor", "--cert-dir", cert_dir]) == 1  # Firefox does not trust it yet
    out = capsys.readouterr().out
    assert "Browsers:" in out and "System stores:" in out and "Runtimes and tools:" in out
    assert "Firefox profile iiii.default" in out and "fix: flask-launcher trust install --store" in out
    assert out.rstrip().endswith("Some browser does not trust the CA yet: see the fixes above.")

    assert main(["trust", "install", "--cert-dir", cert_dir, "--store", "firefox"]) == 0
    capsys.readouterr()
    assert main(["trust", "doctor", "--cert-dir", cert_dir, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is True and data["exit_code"] == 0
    rows = {r["name"]: r for r in data["rows"]}
    assert (
        rows["Firefox profile iiii.default"]["state"] == "trusted"
        and rows["Firefox profile iiii.default"]["counts"]
    )
    assert rows["Chromium/Chrome (NSS)"]["state"] == "trusted"
    assert rows["Windows host user Root store (WSL)"]["state"] == "absent"
    assert {r["area"] for r in data["rows"]} >= {"browser", "system", "runtime", "restart"}
