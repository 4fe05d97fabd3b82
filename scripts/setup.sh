#!/usr/bin/env bash
# Installs the missing Debian packages, configures the build once, and builds.
# Running it again does no extra work.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR=${KIMERA_BUILD_DIR:-build}

missing=()
while read -r pkg; do
  pkg=${pkg%%#*}
  pkg=${pkg//[[:space:]]/}
  [[ -z $pkg ]] && continue
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  if [[ $status != "install ok installed" ]]; then
    missing+=("$pkg")
  fi
done < scripts/packages.txt

if ((${#missing[@]} > 0)); then
  echo "installing: ${missing[*]}"
  sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    sudo=(sudo)
  fi
  "${sudo[@]}" apt-get update
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
fi

if [[ ! -f $BUILD_DIR/build.ninja ]]; then
  if [[ -d $BUILD_DIR/meson-private ]]; then
    meson setup --reconfigure "$BUILD_DIR"
  else
    meson setup "$BUILD_DIR"
  fi
fi

ninja -C "$BUILD_DIR"
