#!/usr/bin/env bash
# Make the podman secret that deploy/kubernetes.yaml mounts on /certs, from a certificate folder
# made by `flask-launcher cert create`: its ca.pem, cert.pem and key.pem (never ca-key.pem).
#
#   deploy/podman-secret.sh CERT_DIR [NAME]       NAME: default flask-launcher-certs
#   podman kube play deploy/kubernetes.yaml
#
# It is what `kubectl create secret generic NAME --from-file=...` makes on Kubernetes, in the form
# `podman kube play` reads: a Secret document stored as a podman secret. Podman before 4.4 writes
# a Secret's `data` values into the files as they are, without base64-decoding them (podman
# issue 16625), so for those versions the values are the PEM text itself.
# An existing secret NAME is replaced, and so is the volume of that name that podman fills from it
# (it would keep files from an older secret). PODMAN overrides the podman command, as in
# scripts/make-base-image.sh (e.g. PODMAN="podman --runtime runc --storage-driver vfs").
set -euo pipefail
if [ $# -lt 1 ] || [ $# -gt 2 ]; then
  echo "usage: $0 CERT_DIR [NAME]" >&2
  exit 2
fi
dir="$1"
name="${2:-flask-launcher-certs}"
read -r -a podman <<< "${PODMAN:-podman}"
files=(ca.pem cert.pem key.pem)
for f in "${files[@]}"; do
  if [ ! -f "$dir/$f" ]; then
    echo "error: $dir/$f is missing: make the folder with \`flask-launcher cert create --cert-dir $dir\`" >&2
    exit 1
  fi
done

version="$("${podman[@]}" version --format '{{.Client.Version}}')"
major="${version%%.*}"
minor="${version#*.}"
minor="${minor%%.*}"
raw=0
if [ "$major" -lt 4 ] || { [ "$major" = 4 ] && [ "$minor" -lt 4 ]; }; then
  raw=1
fi

if "${podman[@]}" volume exists "$name"; then
  "${podman[@]}" volume rm "$name" >/dev/null  # fails, saying so, while a pod still uses it
fi
if "${podman[@]}" secret inspect "$name" >/dev/null 2>&1; then
  "${podman[@]}" secret rm "$name" >/dev/null
fi

{
  printf 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: %s\ntype: Opaque\ndata:\n' "$name"
  for f in "${files[@]}"; do
    if [ "$raw" = 1 ]; then
      printf '  %s: |\n' "$f"
      sed 's/^/    /' "$dir/$f"
    else
      printf '  %s: %s\n' "$f" "$(base64 -w0 "$dir/$f")"
    fi
  done
} | "${podman[@]}" secret create "$name" - >/dev/null
echo "podman secret $name: ${files[*]} from $dir (podman $version)"
