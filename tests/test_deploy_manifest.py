"""deploy/kubernetes.yaml against the image it runs (Containerfile, Makefile) and against itself.

What `podman kube play` ignores (the Service, the readiness probe, fsGroup, defaultMode) cannot be
seen by the container test, so it is checked here: every reference inside the manifest resolves,
and what it assumes of the image (user, ports, command, image name) is what the image is.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

yaml = pytest.importorskip("yaml", reason="needs PyYAML (the test extra)")

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "deploy" / "kubernetes.yaml"
SERVING_FILES = {"ca.pem", "cert.pem", "key.pem"}


def containerfile_cmd() -> list[str]:
    text = (ROOT / "Containerfile").read_text(encoding="utf-8")
    line = next(line for line in text.splitlines() if line.startswith("CMD "))
    return json.loads(line.removeprefix("CMD "))


@pytest.fixture(scope="module")
def docs() -> dict[str, dict[str, Any]]:
    found = [doc for doc in yaml.safe_load_all(MANIFEST.read_text(encoding="utf-8")) if doc]
    kinds = {doc["kind"]: doc for doc in found}
    assert sorted(kinds) == ["Deployment", "Service"] and len(found) == 2
    return kinds


@pytest.fixture(scope="module")
def pod(docs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return docs["Deployment"]["spec"]["template"]["spec"]


@pytest.fixture(scope="module")
def container(pod: dict[str, Any]) -> dict[str, Any]:
    (only,) = pod["containers"]
    return only


def cpu(quantity: str) -> float:
    return int(quantity[:-1]) / 1000 if quantity.endswith("m") else float(quantity)


def mebibytes(quantity: str) -> int:
    number, unit = re.fullmatch(r"(\d+)(Mi|Gi)", quantity).groups()  # type: ignore[union-attr]
    return int(number) * (1024 if unit == "Gi" else 1)


def test_the_image_is_the_one_make_image_tags(container: dict[str, Any]) -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    image = re.search(r"^IMAGE \?= (\S+)$", makefile, re.M).group(1)  # type: ignore[union-attr]
    assert container["image"] == f"localhost/{image}:latest"  # what podman tags `-t flask-launcher`
    assert container["imagePullPolicy"] in ("IfNotPresent", "Never")  # :latest would default to Always


def test_the_command_is_the_images_with_workers_bounded_by_the_cpu_limit(container: dict[str, Any]) -> None:
    image_cmd = containerfile_cmd()
    assert image_cmd[-2:] == ["--workers", "auto"]
    command = container["command"]
    assert command == image_cmd  # the same servers: --host 0.0.0.0 --cert-dir /certs --workers auto
    assert command[command.index("--host") + 1] == "0.0.0.0"  # published ports arrive on the pod's interface
    # auto honours the CPU limit (cgroup cpu.max), so the limit is what bounds the workers.
    assert 1 <= cpu(container["resources"]["limits"]["cpu"]) <= 8


def test_ports_are_the_images_and_published_on_loopback_only(container: dict[str, Any]) -> None:
    text = (ROOT / "Containerfile").read_text(encoding="utf-8")
    exposed = {int(p) for p in re.search(r"^EXPOSE (.+)$", text, re.M).group(1).split()}  # type: ignore[union-attr]
    ports = {p["name"]: p for p in container["ports"]}
    assert {ports["http"]["containerPort"], ports["https"]["containerPort"]} == exposed == {8080, 8443}
    assert ports["http"]["containerPort"] == 8080 and ports["https"]["containerPort"] == 8443
    for port in ports.values():
        assert port["hostIP"] == "127.0.0.1"  # podman kube play publishes hostPort on hostIP only


def test_each_listener_has_a_probe_with_its_own_scheme(container: dict[str, Any]) -> None:
    ports = {p["containerPort"]: p["name"] for p in container["ports"]}
    probed = {}
    for kind in ("readinessProbe", "livenessProbe"):
        get = container[kind]["httpGet"]
        assert isinstance(get["port"], int), "podman 4.3 turns a named probe port into 0"
        assert ports[get["port"]] == get["scheme"].lower(), (kind, get)  # HTTPS on the https port
        assert get["path"] == "/"
        assert container[kind]["timeoutSeconds"] < container[kind]["periodSeconds"]
        probed[get["scheme"]] = kind
    assert set(probed) == {"HTTP", "HTTPS"}
    # podman runs the liveness probe as `curl -f` inside the container, which cannot verify our CA.
    assert container["livenessProbe"]["httpGet"]["scheme"] == "HTTP"


def test_requests_fit_in_the_limits(container: dict[str, Any]) -> None:
    requests, limits = container["resources"]["requests"], container["resources"]["limits"]
    assert 0 < cpu(requests["cpu"]) <= cpu(limits["cpu"])
    assert 64 <= mebibytes(requests["memory"]) <= mebibytes(limits["memory"])


def test_the_certificates_come_read_only_from_a_secret_only_the_server_can_read(
    pod: dict[str, Any], container: dict[str, Any]
) -> None:
    text = (ROOT / "Containerfile").read_text(encoding="utf-8")
    uid = int(re.search(r"useradd --uid (\d+)", text).group(1))  # type: ignore[union-attr]
    cert_dir = container["command"][container["command"].index("--cert-dir") + 1]
    (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == cert_dir]
    assert mount["readOnly"] is True
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    secret = volume["secret"]
    assert secret["secretName"] == "flask-launcher-certs"
    assert secret["defaultMode"] == 0o440  # YAML 1.1 octal, as Kubernetes reads it: not world-readable
    assert secret["optional"] is False  # podman 4.3 crashes when it is left out
    assert "items" not in secret  # every key of the secret; the docs name the three files to put in it
    security = pod["securityContext"]
    assert security["runAsUser"] == security["runAsGroup"] == security["fsGroup"] == uid
    assert security["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False


def commands(text: str, marker: str) -> list[str]:
    """Each command line of *text* that contains *marker*, with its continuation lines (``\\``)."""
    lines = text.splitlines()
    found = []
    for start, line in enumerate(lines):
        if marker in line:
            end = start
            while lines[end].rstrip().endswith("\\"):
                end += 1
            found.append("\n".join(lines[start : end + 1]))
    return found


def test_the_docs_put_only_what_serving_needs_in_the_secret() -> None:
    for path in (MANIFEST, ROOT / "docs" / "deploy.md", ROOT / "README.md"):
        blocks = commands(path.read_text(encoding="utf-8"), "create secret generic")
        assert blocks, path
        for block in blocks:
            assert set(re.findall(r"--from-file=\S*?([\w-]+\.pem)", block)) == SERVING_FILES, (path, block)
            assert "ca-key" not in block, (path, block)


def test_the_service_reaches_both_listeners(
    docs: dict[str, dict[str, Any]], container: dict[str, Any]
) -> None:
    service = docs["Service"]["spec"]
    labels = docs["Deployment"]["spec"]["template"]["metadata"]["labels"]
    assert service["selector"].items() <= labels.items()
    assert docs["Deployment"]["spec"]["selector"]["matchLabels"].items() <= labels.items()
    names = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert {p["targetPort"]: p["port"] for p in service["ports"]} == {"http": 8080, "https": 8443}
    assert all(p["targetPort"] in names for p in service["ports"])
    assert docs["Service"]["metadata"]["name"] == docs["Deployment"]["metadata"]["name"] == "flask-launcher"


@pytest.mark.parametrize("version", ["1.27.0", "latest"])
def test_the_manifest_is_valid_kubernetes(docs: dict[str, dict[str, Any]], version: str) -> None:
    """Strict validation against the API's schemas: a misspelt field is an error here, where
    `podman kube play` would quietly ignore it. 1.27: the oldest release the manifest is meant for."""
    kv = pytest.importorskip("kubernetes_validate", reason="needs kubernetes-validate (the test extra)")
    wanted = kv.latest_version() if version == "latest" else version
    for doc in docs.values():
        kv.validate(doc, wanted, strict=True)
    broken = json.loads(json.dumps(docs["Deployment"]))
    broken["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kv.ValidationError, match="readinesProbe"):
        kv.validate(broken, wanted, strict=True)
