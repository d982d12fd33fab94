# Shell functions the set-up scripts share. Source it: . scripts/lib.sh

# missing_debs PKG...: print the packages of PKG... that are not installed.
missing_debs() {
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"
  done
}

# ensure_debs WHAT PKG...: install the missing ones as root; otherwise say what to run.
# WHAT names what they are for, in the messages. Returns 1 when some stay missing.
ensure_debs() {
  local what=$1; shift
  local missing
  mapfile -t missing < <(missing_debs "$@")
  [ ${#missing[@]} -eq 0 ] && return 0
  if ! command -v apt-get >/dev/null; then
    echo "note: not a Debian/Ubuntu system; install $what yourself: ${missing[*]}" >&2
    return 1
  elif [ "$(id -u)" = 0 ]; then
    echo "Installing Debian packages for $what: ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "Some Debian packages for $what are missing. Install them with:" >&2
    echo "  sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    return 1
  fi
}
