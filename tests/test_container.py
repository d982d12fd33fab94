"""The container image (Containerfile), built and run with podman on this machine.

No container registry is reachable here, so the base image is a local Debian bookworm made by
scripts/make-base-image.sh (debootstrap + podman import, cached between runs), and PyPI is not
reachable from inside a build (its TLS goes through a proxy only the host trusts): the test
builds the wheels on the host and hands them over as wheelhouse/ in the build context.

The image is built with ``--layers=false`` (no intermediate images: with the vfs storage driver
each one is a full copy of the file system) and removed at the end; the base image stays.
Skipped, with the reason, where podman cannot run containers.

The same image also runs deploy/kubernetes.yaml with ``podman kube play`` (docs/deploy.md).
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


def podman(
    *args: str, timeout: float = 120, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([*PODMAN, *args], capture_output=True, text=True, timeout=timeout, env=env)
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
        image: str,
        *args: str,
        publish: dict[int, int],
        volume: Path | None = None,
        env=None,
        podman_args: tuple[str, ...] = (),
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
        podman(*cmd, *podman_args, image, *args)
        container = Container(name)
        made.append(container)
        return container

    yield run
    for container in made:
        container.remove()


#: The CPUs this machine's containers may use (``--workers auto`` starts one worker each).
CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1


def worker_processes(container: str) -> int:
    """How many ``_server-process`` workers run in *container* (the bracket keeps grep's own
    command line from matching)."""
    out = podman("exec", container, "sh", "-c", "grep -l '_server-proces[s]' /proc/[0-9]*/cmdline || true")
    return len(out.stdout.split())


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
    cmd = ["flask-launcher", "serve", "--host", "0.0.0.0", "--cert-dir", "/certs", "--workers", "auto"]
    assert config["Cmd"] == cmd
    # curl: podman kube play runs the manifest's livenessProbe as `curl -f URL` in the container.
    done = podman("run", "--rm", *ULIMITS, image, "curl", "--version")
    assert done.stdout.startswith("curl "), done.stdout


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
    # --workers auto: one worker process per usable core, each one logging what it served.
    assert worker_processes(container.name) == (CORES if CORES > 1 else 0)
    for _ in range(20):
        assert fetch(f"https://127.0.0.1:{https_port}/", context)[0] == 200
    health = podman("healthcheck", "run", container.name, check=False)
    assert health.returncode == 0, health.stdout + health.stderr

    start = time.monotonic()
    podman("stop", "-t", "10", container.name)
    timings["stop"] = time.monotonic() - start
    assert container.inspect("{{.State.ExitCode}}") == "0", container.logs()
    logs = container.logs()
    assert 'https "GET /inspect HTTP/1.1" 200' in logs, logs
    assert "Traceback" not in logs
    if CORES > 1:
        served_by = {line.rsplit(" ", 1)[1] for line in logs.splitlines() if '"GET / HTTP/1.1" 200' in line}
        assert served_by == {f"w{n}" for n in range(1, CORES + 1)}, logs

    # A new container on the same volume keeps the CA: what the host trusts stays valid.
    ca_before = ca.read_bytes()
    # With one CPU allowed (a quota, as a Kubernetes CPU limit is), auto means one process.
    again = run_container(image, publish={https_port: 8443}, volume=cert_volume, podman_args=("--cpus", "1"))
    again.wait_log("CA certificate: /certs/ca.pem")
    assert worker_processes(again.name) == 0
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


# --- deploy/kubernetes.yaml, played by podman kube play -------------------------------------------------

MANIFEST = ROOT / "deploy" / "kubernetes.yaml"
#: What the Secret holds: what serving needs, not the CA key (docs/deploy.md).
SERVING_FILES = ["ca.pem", "cert.pem", "key.pem"]
#: `podman kube play` has no --ulimit: the same limits as ULIMITS, as containers.conf defaults.
KUBE_CONTAINERS_CONF = '[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]\n'


def kube_copy(
    tmp_path: Path, image: str, name: str, secret: str, host_ports: dict[int, int]
) -> tuple[Path, dict]:
    """The committed manifest with this run's image, Deployment name, secret name and host ports
    (so it cannot clash with a real deployment or a port in use); nothing else changes."""
    yaml = pytest.importorskip("yaml", reason="needs PyYAML (the test extra)")
    docs = [doc for doc in yaml.safe_load_all(MANIFEST.read_text(encoding="utf-8")) if doc]
    deployment = next(doc for doc in docs if doc["kind"] == "Deployment")
    deployment["metadata"]["name"] = name
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == "localhost/flask-launcher:latest"
    container["image"] = image
    for port in container["ports"]:
        port["hostPort"] = host_ports[port["containerPort"]]
    (volume,) = [v for v in pod["volumes"] if "secret" in v]
    volume["secret"]["secretName"] = secret
    # podman 4.3 makes an emptyDir a volume named after it, shared by every pod that names it alike.
    for volume in pod["volumes"]:
        if "emptyDir" in volume:
            (mount,) = [m for m in container["volumeMounts"] if m["name"] == volume["name"]]
            volume["name"] = mount["name"] = f"{name}-{volume['name']}"
    path = tmp_path / "kubernetes.yaml"
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False), encoding="utf-8")
    return path, container


def served_leaf(port: int, context: ssl.SSLContext) -> bytes:
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        leaf = tls.getpeercert(binary_form=True)
    assert leaf is not None
    return leaf


def test_kube_play_the_manifest_with_the_certificates_from_a_secret(
    image: str, tmp_path: Path, timings: dict[str, float]
) -> None:
    """deploy/kubernetes.yaml as a user plays it: a certificate folder from `cert create` on the
    host, its three serving files put in a secret by deploy/podman-secret.sh, `podman kube play`,
    then both URLs from the host (HTTPS verified with that CA), the probes, and `podman kube down`."""
    if not (shutil.which("catatonit") or Path("/usr/libexec/podman/catatonit").exists()):
        pytest.skip(
            "no catatonit, from which podman builds a pod's infra image (container-test.sh installs it)"
        )
    certs = tmp_path / "certs"
    made = subprocess.run(
        [sys.executable, "-m", "launcher", "cert", "create", "--cert-dir", str(certs)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert made.returncode == 0, made.stderr
    tag = f"flask-launcher-kube-test-{os.getpid()}"
    secret = f"{tag}-certs"
    http_port, https_port = free_port(), free_port()
    host_ports = {8080: http_port, 8443: https_port}
    manifest, spec = kube_copy(tmp_path, image, tag, secret, host_ports)
    conf = tmp_path / "containers.conf"
    conf.write_text(KUBE_CONTAINERS_CONF, encoding="utf-8")
    env = dict(os.environ, CONTAINERS_CONF=str(conf), PODMAN=shlex.join(PODMAN))
    pod = f"{tag}-pod-0"
    container = Container(f"{pod}-{spec['name']}")
    down = None
    try:
        start = time.monotonic()
        made = subprocess.run(
            [str(ROOT / "deploy" / "podman-secret.sh"), str(certs), secret],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
        )
        assert made.returncode == 0, made.stderr
        podman("kube", "play", str(manifest), timeout=300, env=env)
        logs = container.wait_log("CA certificate: /certs/ca.pem", timeout=120)
        timings["kube play"] = time.monotonic() - start
        assert "https://127.0.0.1:8443/" in logs and "http://127.0.0.1:8080/" in logs, logs
        assert "listening on all interfaces" in logs  # --host 0.0.0.0 in the pod
        assert "Traceback" not in logs and "error:" not in logs and "ca-key" not in logs, logs

        # The secret, read-only, as the image's user: the three files, byte for byte (podman before
        # 4.4 does not decode a Secret's data: deploy/podman-secret.sh must have allowed for it).
        assert podman("exec", container.name, "id", "-u").stdout.strip() == str(APP_UID)
        assert sorted(podman("exec", container.name, "ls", "-A", "/certs").stdout.split()) == SERVING_FILES
        for name in SERVING_FILES:
            inside = podman("exec", container.name, "cat", f"/certs/{name}").stdout
            assert inside == (certs / name).read_text(encoding="ascii"), name
        for path in ("/certs/x", "/home/launcher/x"):  # the secret's mount, and readOnlyRootFilesystem
            touch = podman("exec", container.name, "touch", path, check=False)
            assert touch.returncode != 0 and "Read-only file system" in touch.stderr, (path, touch.stderr)
        # The inspector's token could not go in /certs: it went to a private folder in /tmp (an
        # emptyDir), so `flask-launcher inspect` in the pod still tells what the app saw.
        assert "inspector's token" not in logs, logs
        seen = podman(
            "exec", container.name, "flask-launcher", "inspect", "https://127.0.0.1:8443/",
            "--json", "--cert-dir", "/certs", check=False,
        )  # fmt: skip
        flask_part = json.loads(seen.stdout)["https"]["flask"]
        assert flask_part["available"] is True and flask_part["scheme"] == "https", (flask_part, seen.stderr)
        # defaultMode 0440: podman 4.3 ignores it (0644), and then the server says the key can be
        # read by every user of the container; where the mode is honoured it has nothing to say.
        key_mode = int(podman("exec", container.name, "stat", "-c", "%a", "/certs/key.pem").stdout, 8)
        warned = "warning: The key /certs/key.pem can be read by every user" in logs
        assert warned == bool(key_mode & 0o004), (oct(key_mode), logs)

        # From the host: plain HTTP, and HTTPS verified with the CA the secret was made from.
        status, body = fetch(f"http://127.0.0.1:{http_port}/")
        assert status == 200 and b"<html" in body.lower()
        context = ssl.create_default_context(cafile=str(certs / "ca.pem"))
        for host in ("localhost", "127.0.0.1"):
            status, body = fetch(f"https://{host}:{https_port}/inspect", context)
            facts = json.loads(body)
            assert status == 200 and facts["scheme"] == "https", facts
            assert facts["tls"]["version"] in ("TLSv1.2", "TLSv1.3") and facts["server_port"] == 8443
        leaf = ssl.PEM_cert_to_DER_cert((certs / "cert.pem").read_text(encoding="ascii"))
        assert served_leaf(https_port, context) == leaf  # the secret's leaf, not one made in the pod
        with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
            urllib.request.urlopen(
                f"https://localhost:{https_port}/", timeout=10, context=ssl.create_default_context()
            )

        # The probes as the kubelet makes them (no certificate check), through the published ports.
        for kind in ("readinessProbe", "livenessProbe"):
            get = spec[kind]["httpGet"]
            scheme = get["scheme"].lower()
            url = f"{scheme}://127.0.0.1:{host_ports[get['port']]}{get['path']}"
            unverified = ssl._create_unverified_context() if scheme == "https" else None
            status, _ = fetch(url, unverified)
            assert 200 <= status < 400, (kind, url, status)
        # podman's form of the liveness probe: a health check that runs curl in the container.
        health = json.loads(container.inspect("{{json .Config.Healthcheck}}"))
        assert "curl" in health["Test"] and "HTTP://localhost:8080/" in health["Test"], health
        check = podman("healthcheck", "run", container.name, check=False)
        assert check.returncode == 0, check.stdout + check.stderr

        # resources.limits became the container's cgroup limits.
        limits = spec["resources"]["limits"]
        assert limits["memory"] == "512Mi" and limits["cpu"] == "2"
        assert container.inspect("{{.HostConfig.Memory}}") == str(512 * 1024 * 1024)
        assert container.inspect("{{.HostConfig.NanoCpus}}") == str(2 * 10**9)

        # The pool prints each access line 0.35-0.55 s after its request (the workers send them in
        # batches and the supervisor merges them in time order): wait for them, within bounds.
        logs = container.wait_log('https "GET /inspect HTTP/1.1" 200', timeout=15)
        assert 'http "GET / HTTP/1.1" 200' in logs, logs
    finally:
        start = time.monotonic()
        down = podman("kube", "down", str(manifest), check=False, timeout=120)
        podman("pod", "rm", "-f", pod, check=False)  # if kube down could not
        podman("volume", "rm", "-f", secret, check=False)  # the secret's files: kube down leaves them
        podman("volume", "rm", "-f", f"{tag}-flask-launcher-tmp", check=False)  # the emptyDir, if left
        podman("secret", "rm", secret, check=False)
        timings["kube down"] = time.monotonic() - start
    assert down.returncode == 0, down.stderr
    assert podman("pod", "exists", pod, check=False).returncode == 1
    assert podman("volume", "exists", secret, check=False).returncode == 1
    assert podman("volume", "exists", f"{tag}-flask-launcher-tmp", check=False).returncode == 1
    assert podman("secret", "inspect", secret, check=False).returncode != 0
