# Build the shipped forms of Flask HTTPS Launcher.
#   make bundle     PyInstaller one-folder bundle: dist/flask-launcher/flask-launcher
#   make image      container image $(IMAGE) from Containerfile (podman, or PODMAN=docker)
#                   options: BASE=<image> (FROM), GUI=1 (Qt libraries for the window over VNC),
#                   CURL=0 (no curl: a build with no Debian mirror; see Containerfile)
#   make clean      remove build/ and dist/
# On machines without systemd/overlayfs, podman may need: PODMAN="podman --runtime runc --storage-driver vfs"
PODMAN ?= podman
IMAGE ?= flask-launcher
BASE ?=
GUI ?= 0
CURL ?= 1

# HEALTHCHECK is kept only in the docker image format; podman defaults to OCI.
FORMAT := $(if $(findstring podman,$(PODMAN)),--format docker,)

.PHONY: bundle image clean

bundle:
	scripts/build-bundle.sh

image:
	$(PODMAN) build $(FORMAT) $(if $(BASE),--build-arg BASE=$(BASE),) --build-arg GUI=$(GUI) --build-arg CURL=$(CURL) -t $(IMAGE) -f Containerfile .

clean:
	rm -rf build dist
