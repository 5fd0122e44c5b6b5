#!/usr/bin/env bash
# Idempotent set-up for a fresh Debian 12 machine: Debian packages, the Python venv with the
# OpenVINO runtime, models and sample media (pinned, sha256-checked, cached in ~/.cache/ovstream).
# A second run changes nothing and needs no network.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  pkg-config clang libclang-dev libopencv-dev
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev libgstrtspserver-1.0-dev
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
  gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-rtsp gstreamer1.0-tools
  gstreamer1.0-plugins-base-apps python3-venv
  mosquitto mosquitto-clients libssl-dev openssl
  podman runc mmdebstrap uidmap
  chromium chromium-driver
)

say() { printf '==> %s\n' "$*" >&2; }

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  say "installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

command -v cargo >/dev/null || {
  echo "error: cargo not found; install Rust >= 1.92 (rustup.rs) first" >&2; exit 1; }
# `make test` runs the suite with cargo-nextest (unit and integration tests in one pool).
if ! cargo nextest --version >/dev/null 2>&1; then
  say "installing cargo-nextest (crates.io)"
  cargo install --locked cargo-nextest
fi

req_sha=$(sha256sum requirements.txt | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat .venv/.requirements.sha256 2>/dev/null)" != "$req_sha" ]; then
  say "creating .venv (openvino runtime, golden-reference tools)"
  python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check -r requirements.txt
  echo "$req_sha" > .venv/.requirements.sha256
fi

say "models"
python3 models/fetch
say "samples"
python3 samples/fetch
say "camera stand-in clip (made from vtest.avi)"
.venv/bin/python scripts/camera_clip.py
