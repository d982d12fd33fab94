#!/usr/bin/env bash
# Build a minimal Debian bookworm image with python3, python3-venv and python3-pip, locally,
# for machines that reach Debian's package mirror but no container registry.
#
#   scripts/make-base-image.sh [IMAGE]        default IMAGE: localhost/flask-launcher-base:bookworm
#
# debootstrap (minbase) from the same mirror apt uses here, then `podman import`. Cached: does
# nothing when IMAGE exists already (FORCE=1 rebuilds). Needs root, debootstrap and podman.
# Prints the image name on its last line. PODMAN can override the podman command (default: the
# flags that work on this kind of machine: runc and vfs storage, see docs/container.md).
set -euo pipefail
image="${1:-localhost/flask-launcher-base:bookworm}"
suite="${SUITE:-bookworm}"
read -r -a podman <<< "${PODMAN:-podman --runtime runc --storage-driver vfs}"

if [ "$(id -u)" != 0 ]; then
  echo "error: make-base-image.sh needs root (debootstrap)" >&2
  exit 1
fi
for tool in debootstrap "${podman[0]}"; do
  command -v "$tool" >/dev/null || { echo "error: $tool is not installed (apt-get install -y $tool)" >&2; exit 1; }
done

if [ "${FORCE:-0}" != 1 ] && "${podman[@]}" image exists "$image"; then
  echo "base image $image exists (FORCE=1 rebuilds)" >&2
  echo "$image"
  exit 0
fi

# The mirror apt uses: deb822 sources first, then the one-line format.
mirror="${MIRROR:-}"
if [ -z "$mirror" ]; then
  mirror="$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)"
fi
if [ -z "$mirror" ] && [ -f /etc/apt/sources.list ]; then
  mirror="$(awk '$1 == "deb" && $0 !~ /security/ {for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' /etc/apt/sources.list)"
fi
mirror="${mirror:-http://deb.debian.org/debian}"

root="$(mktemp -d /var/tmp/flask-launcher-rootfs.XXXXXX)"
trap 'rm -rf "$root"' EXIT
echo "debootstrap $suite from $mirror into $root ..." >&2
start=$SECONDS
debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates \
  "$suite" "$root" "$mirror" >"$root.log" 2>&1 || { tail -20 "$root.log" >&2; rm -f "$root.log"; exit 1; }
rm -f "$root.log"
# Keep the image small: apt lists and caches are not needed to run python.
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb
chmod 0755 "$root"  # mktemp made it 0700: as the image's / it would lock out non-root users
echo "debootstrap took $((SECONDS - start)) s; importing as $image ..." >&2
tar -C "$root" -c . | "${podman[@]}" import --quiet \
  --change 'CMD ["/bin/bash"]' --change 'ENV LANG=C.UTF-8' - "$image" >/dev/null
echo "$image"
