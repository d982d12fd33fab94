"""The container image (Containerfile), built and run with podman on this machine.

No container registry is reachable here, so the base image is a local Debian bookworm made by
scripts/make-base-image.sh (debootstrap + podman import, cached between runs), and PyPI is not
reachable from inside a build (its TLS goes through a proxy only the host trusts): the test
builds the wheels on the host and hands them over as wheelhouse/ in the build context.

The image is built with ``--layers=false`` (no intermediate images: with the vfs storage driver
each one is a full copy of the file system) and removed at the end; the base image stays.
Skipped, with the reason, where podman cannot run containers.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[1]
BASE_IMAGE = os.environ.get("FLASK_LAUNCHER_BASE_IMAGE", "localhost/flask-launcher-base:bookworm")
IMAGE = "localhost/flask-launcher:test"
GUI_IMAGE = "localhost/flask-launcher:test-gui"
# The flags that work on this kind of machine: no systemd, no overlayfs.
PODMAN = shlex.split(os.environ.get("PODMAN", "podman --runtime runc --storage-driver vfs"))
ULIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]
CONTEXT_FILES = ("pyproject.toml", "README.md", "Containerfile", ".containerignore")
CONTEXT_DIRS = ("launcher", "flaskapp", "resources")
APP_UID = 10001


def podman(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([*PODMAN, *args], capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        raise AssertionError(
            f"podman {' '.join(args[:3])} ... failed ({done.returncode}):\n{done.stderr[-3000:]}"
        )
    return done


def _why_podman_cannot_run() -> str | None:
    if not shutil.which(PODMAN[0]):
        return f"{PODMAN[0]} is not installed (scripts/container-test.sh installs podman, runc, debootstrap)"
    if os.geteuid() != 0:
        return "the container test runs podman as root (rootful, vfs, runc); not root here"
    try:
        done = subprocess.run(
            [*PODMAN, "info", "--format", "{{.Host.OCIRuntime.Name}}"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"podman info failed: {exc}"
    if done.returncode != 0:
        return f"podman cannot run here: {done.stderr.strip().splitlines()[-1:] or done.returncode}"
    exists = subprocess.run([*PODMAN, "image", "exists", BASE_IMAGE], capture_output=True, timeout=60)
    if exists.returncode != 0 and not shutil.which("debootstrap"):
        return f"no base image {BASE_IMAGE} and no debootstrap to make one"
    return None


_REASON = _why_podman_cannot_run() if sys.platform == "linux" else "podman test runs on Linux only"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def timings() -> Iterator[dict[str, float]]:
    times: dict[str, float] = {}
    yield times
    if times:
        print("\ncontainer timings: " + ", ".join(f"{k} {v:.0f} s" for k, v in times.items()))


@pytest.fixture(scope="module")
def base_image(timings: dict[str, float]) -> str:
    if _REASON:
        pytest.skip(_REASON)
    start = time.monotonic()
    done = subprocess.run(
        [str(ROOT / "scripts" / "make-base-image.sh"), BASE_IMAGE],
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(os.environ, PODMAN=shlex.join(PODMAN)),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    timings["base image"] = time.monotonic() - start
    return done.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def build_context(tmp_path_factory: pytest.TempPathFactory, timings: dict[str, float]) -> Path:
    """The sources the image needs, plus wheels for the app and its dependencies (built here)."""
    if _REASON:
        pytest.skip(_REASON)
    start = time.monotonic()
    context = tmp_path_factory.mktemp("context")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pem", "*.key")
    for name in CONTEXT_FILES:
        shutil.copy2(ROOT / name, context / name)
    for name in CONTEXT_DIRS:
        shutil.copytree(ROOT / name, context / name, ignore=ignore)
    # Build the project's wheel from a copy, so the build's side files stay out of the context.
    staging = tmp_path_factory.mktemp("staging")
    shutil.copytree(context, staging, dirs_exist_ok=True)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--disable-pip-version-check",
            "--wheel-dir",
            str(context / "wheelhouse"),
            str(staging),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    timings["wheelhouse"] = time.monotonic() - start
    return context


def build(context: Path, base: str, tag: str, *extra: str) -> None:
    podman(
        "build",
        "--quiet",
        "--layers=false",
        "--format",
        "docker",
        *ULIMITS,
        "--build-arg",
        f"BASE={base}",
        *extra,
        "-t",
        tag,
        "-f",
        "Containerfile",
        str(context),
        timeout=900,
    )


@pytest.fixture(scope="module")
def image(base_image: str, build_context: Path, timings: dict[str, float]) -> Iterator[str]:
    start = time.monotonic()
    build(build_context, base_image, IMAGE)
    timings["build"] = time.monotonic() - start
    yield IMAGE
    podman("rmi", "-f", IMAGE, check=False)


@pytest.fixture
def cert_volume(tmp_path: Path) -> Path:
    """A host folder for /certs, owned by the image's non-root user (a bind mount keeps host owners)."""
    path = tmp_path / "certs"
    path.mkdir(mode=0o700)
    os.chown(path, APP_UID, APP_UID)
    return path


class Container:
    """One detached container, removed by ``remove()`` whatever its state."""

    def __init__(self, name: str) -> None:
        self.name = name

    def logs(self) -> str:
        done = podman("logs", self.name, check=False)
        return done.stdout + done.stderr

    def wait_log(self, text: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            logs = self.logs()
            if text in logs:
                return logs
            state = podman("inspect", "--format", "{{.State.Status}}", self.name, check=False).stdout.strip()
            if state in ("exited", "stopped"):
                break
            time.sleep(0.5)
        raise AssertionError(f"{text!r} never appeared in the logs:\n{self.logs()[-3000:]}")

    def inspect(self, template: str) -> str:
        return podman("inspect", "--format", template, self.name).stdout.strip()

    def remove(self) -> None:
        podman("rm", "-f", "-t", "2", self.name, check=False)


@pytest.fixture
def run_container(request: pytest.FixtureRequest) -> Iterator:
    made: list[Container] = []

    def run(
        image: str, *args: str, publish: dict[int, int], volume: Path | None = None, env=None
    ) -> Container:
        name = f"flask-launcher-test-{os.getpid()}-{len(made)}-{request.node.name[:20]}".replace("[", "-")
        name = "".join(c if c.isalnum() or c in "-_." else "-" for c in name)
        cmd = ["run", "-d", "--name", name, *ULIMITS]
        for host_port, container_port in publish.items():
            cmd += ["-p", f"127.0.0.1:{host_port}:{container_port}"]
        if volume is not None:
            cmd += ["-v", f"{volume}:/certs"]
        for key, value in (env or {}).items():
            cmd += ["-e", f"{key}={value}"]
        podman(*cmd, image, *args)
        container = Container(name)
        made.append(container)
        return container

    yield run
    for container in made:
        container.remove()


def fetch(url: str, context: ssl.SSLContext | None = None, timeout: float = 30) -> tuple[int, bytes]:
    """GET *url*, retrying briefly while the published port is being wired up."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=10, context=context) as resp:
                return resp.status, resp.read()
        except (urllib.error.URLError, ConnectionError) as exc:
            if isinstance(getattr(exc, "reason", None), ssl.SSLCertVerificationError):
                raise
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def test_image_metadata(image: str) -> None:
    data = json.loads(podman("image", "inspect", image).stdout)[0]
    config = data["Config"]
    assert set(config["ExposedPorts"]) == {"8080/tcp", "8443/tcp"}
    assert "/certs" in config["Volumes"]
    assert config["User"] == "launcher"
    # podman shows the HEALTHCHECK at the top level, docker inside Config.
    health = data.get("Healthcheck") or config.get("Healthcheck")
    assert health and health["Test"][0] == "CMD-SHELL", data.keys()
    assert config["Cmd"] == ["flask-launcher", "serve", "--host", "0.0.0.0", "--cert-dir", "/certs"]


def test_serve_in_container_from_the_host_with_the_ca_from_the_volume(
    image: str, cert_volume: Path, run_container, timings: dict[str, float]
) -> None:
    http_port, https_port = free_port(), free_port()
    start = time.monotonic()
    container = run_container(image, publish={http_port: 8080, https_port: 8443}, volume=cert_volume)
    logs = container.wait_log("CA certificate: /certs/ca.pem")
    timings["start"] = time.monotonic() - start
    assert "https://127.0.0.1:8443/" in logs and "http://127.0.0.1:8080/" in logs, logs
    assert "listening on all interfaces" in logs  # the explicit --host 0.0.0.0 and its warning

    ca = cert_volume / "ca.pem"
    assert ca.is_file()
    assert (cert_volume / "ca-key.pem").stat().st_mode & 0o777 == 0o600
    assert (cert_volume / "key.pem").stat().st_uid == APP_UID  # written by the non-root user

    status, body = fetch(f"http://127.0.0.1:{http_port}/")
    assert status == 200 and b"<html" in body.lower()
    context = ssl.create_default_context(cafile=str(ca))
    for host in ("127.0.0.1", "localhost"):
        status, body = fetch(f"https://{host}:{https_port}/inspect", context)
        facts = json.loads(body)
        assert status == 200
        assert facts["scheme"] == "https" and facts["tls"]["version"] in ("TLSv1.2", "TLSv1.3")
    with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
        urllib.request.urlopen(
            f"https://127.0.0.1:{https_port}/", timeout=10, context=ssl.create_default_context()
        )

    assert podman("exec", container.name, "id", "-u").stdout.strip() == str(APP_UID)
    health = podman("healthcheck", "run", container.name, check=False)
    assert health.returncode == 0, health.stdout + health.stderr

    start = time.monotonic()
    podman("stop", "-t", "10", container.name)
    timings["stop"] = time.monotonic() - start
    assert container.inspect("{{.State.ExitCode}}") == "0", container.logs()
    logs = container.logs()
    assert 'https "GET /inspect HTTP/1.1" 200' in logs, logs
    assert "Traceback" not in logs

    # A new container on the same volume keeps the CA: what the host trusts stays valid.
    ca_before = ca.read_bytes()
    again = run_container(image, publish={https_port: 8443}, volume=cert_volume)
    again.wait_log("CA certificate: /certs/ca.pem")
    status, _ = fetch(f"https://localhost:{https_port}/", context)
    assert status == 200
    assert ca.read_bytes() == ca_before
    podman("stop", "-t", "10", again.name)


def test_window_in_container_over_vnc(
    base_image: str, build_context: Path, run_container, cert_volume: Path, tmp_path: Path, timings
) -> None:
    """GUI=1 image: the window on Qt's vnc platform, driven and captured from the host (vncdotool).

    Ctrl+R (Start all) typed over VNC starts both servers on the image's saved address 0.0.0.0;
    the host fetches HTTPS through -p with the CA from the volume, and the next frame differs.
    """
    pytest.importorskip("vncdotool", reason="needs vncdotool from PyPI (the test extra)")
    pytest.importorskip("PIL", reason="needs Pillow (a vncdotool dependency)")
    from vnc_capture import capture, frame_stats, press_key, wait_port

    start = time.monotonic()
    build(build_context, base_image, GUI_IMAGE, "--build-arg", "GUI=1")
    timings["build GUI=1"] = time.monotonic() - start
    try:
        vnc_port, https_port = free_port(), free_port()
        container = run_container(
            GUI_IMAGE,
            "flask-launcher",
            "gui",
            "--cert-dir",
            "/certs",
            publish={vnc_port: 5900, https_port: 8443},
            volume=cert_volume,
            env={"QT_QPA_PLATFORM": "vnc:port=5900:size=1440x900"},
        )
        container.wait_log("QVncServer created on port 5900")
        wait_port("127.0.0.1", vnc_port, 30)
        time.sleep(2)  # the first paint
        before = tmp_path / "before.png"
        capture("127.0.0.1", vnc_port, before)
        stats = frame_stats(before)
        assert (stats["width"], stats["height"]) == (1440, 900), stats
        assert stats["colours"] >= 32 and stats["top_share"] < 0.95, stats

        press_key("127.0.0.1", vnc_port, "ctrl-r")  # Servers > Start all
        deadline = time.monotonic() + 30
        while not (cert_volume / "ca.pem").is_file() and time.monotonic() < deadline:
            time.sleep(0.3)
        context = ssl.create_default_context(cafile=str(cert_volume / "ca.pem"))
        status, body = fetch(f"https://localhost:{https_port}/inspect", context)
        assert status == 200 and json.loads(body)["scheme"] == "https"
        time.sleep(1.5)  # the log pump and the repaint
        after = tmp_path / "after.png"
        capture("127.0.0.1", vnc_port, after)
        from PIL import Image, ImageChops

        with Image.open(before) as a, Image.open(after) as b:
            assert ImageChops.difference(a.convert("RGB"), b.convert("RGB")).getbbox() is not None

        # The window closes cleanly on SIGINT (its Ctrl+C handling); podman stop's SIGTERM would kill it.
        podman("kill", "--signal", "INT", container.name)
        podman("wait", container.name, timeout=60)
        assert container.inspect("{{.State.ExitCode}}") == "0", container.logs()
    finally:
        podman("rmi", "-f", GUI_IMAGE, check=False)
