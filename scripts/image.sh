#!/usr/bin/env bash
# Builds the container image localhost/ovstream:latest with podman (`make image`):
#   1. a Debian bookworm base from Debian packages only (mmdebstrap, minbase + the GStreamer and
#      OpenCV runtime), imported with `podman import` as localhost/ovstream-base:<key>, where the
#      key is a hash of the package list (cached: the tarball in ~/.cache/ovstream/image, the
#      image in podman's store; a second build reuses both);
#   2. deploy/Containerfile on top: the host's release binary and plugin (`make build`), the
#      OpenVINO runtime libraries of the pinned wheel (.venv), the default model and the
#      pipelines — staged in a small build context, no RUN step;
#   3. a check that no shared library is missing inside (`ldd`).
# podman here: `--runtime runc`, and explicit ulimits within the host's hard limits (derived).
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE=${IMAGE:-localhost/ovstream:latest}
SUITE=bookworm
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
PACKAGES=(
  libgstreamer1.0-0 libgstreamer-plugins-base1.0-0 libgstrtspserver-1.0-0
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
  gstreamer1.0-plugins-ugly gstreamer1.0-libav
  libopencv-core406 libopencv-imgproc406 libssl3 ca-certificates
)
# Frontends of the wheel that no bundled model needs (GGUF, JAX, Paddle, PyTorch).
SKIP_LIBS='gguf|jax|paddle|pytorch'
DEFAULT_MODEL=pedestrian-ssdlite
# What to copy in (default: `make build`'s); the tests pass the binary `cargo test` built.
BIN=${OVSTREAM_BIN:-target/release/ovstream}
PLUGIN=${OVSTREAM_PLUGIN:-target/release/libgstovstream.so}

say() { printf '==> %s\n' "$*" >&2; }

for tool in podman mmdebstrap; do
  command -v "$tool" >/dev/null || {
    echo "error: $tool not found: make setup installs it (Debian podman runc mmdebstrap uidmap)" >&2
    exit 1
  }
done
for f in "$BIN" "$PLUGIN" "models/$DEFAULT_MODEL"; do
  [ -e "$f" ] || { echo "error: $f is missing: run make build first" >&2; exit 1; }
done
libs=$(ls -d .venv/lib/python3*/site-packages/openvino/libs 2>/dev/null | head -1)
[ -n "$libs" ] || { echo "error: .venv has no openvino/libs: run make setup" >&2; exit 1; }

# podman's defaults exceed what this machine allows: ask for the hard limits themselves, and
# for processes no more than the kernel's pid_max (runc is refused above it here).
nofile=$(ulimit -Hn); nproc=$(ulimit -Hu)
[ "$nofile" = unlimited ] && nofile=1048576
[ "$nproc" = unlimited ] && nproc=1048576
pid_max=$(cat /proc/sys/kernel/pid_max)
[ "$nproc" -gt "$pid_max" ] && nproc=$pid_max
PODMAN=(podman --runtime runc)
LIMITS=(--ulimit "nofile=$nofile:$nofile" --ulimit "nproc=$nproc:$nproc")

cache="$HOME/.cache/ovstream/image"
mkdir -p "$cache"
key=$(printf '%s\n' "$SUITE" "${PACKAGES[@]}" | sha256sum | cut -c1-16)
base="localhost/ovstream-base:$key"
started=$(date +%s)
if ! "${PODMAN[@]}" image exists "$base"; then
  tarball="$cache/base-$key.tar"
  if [ ! -f "$tarball" ]; then
    # mmdebstrap picks its output format from the name: keep `.tar` at the end.
    rm -rf "$tarball.part.tar"
    say "debootstrapping $SUITE with mmdebstrap (${#PACKAGES[@]} packages)"
    include=$(IFS=,; echo "${PACKAGES[*]}")
    mmdebstrap --variant=minbase --include="$include" \
      --aptopt='APT::Install-Recommends "false"' \
      --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
      --dpkgopt='path-exclude=/usr/share/locale/*' \
      "$SUITE" "$tarball.part.tar" \
      "deb $MIRROR $SUITE main" "deb $MIRROR $SUITE-updates main" \
      "deb $SECURITY $SUITE-security main"
    mv "$tarball.part.tar" "$tarball"
  fi
  say "importing the base as $base"
  "${PODMAN[@]}" import --quiet "$tarball" "$base" >/dev/null
fi

context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
cp "$BIN" "$context/ovstream"
cp "$PLUGIN" "$context/libgstovstream.so"
mkdir -p "$context/openvino" "$context/models" "$context/pipelines"
for f in "$libs"/*.so*; do
  [[ "$(basename "$f")" =~ $SKIP_LIBS ]] || cp -L "$f" "$context/openvino/"
done
cp models/manifest.toml "$context/models/"
cp -r "models/$DEFAULT_MODEL" "$context/models/"
cp pipelines/*.toml "$context/pipelines/"

say "building $IMAGE"
previous=$("${PODMAN[@]}" image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)
"${PODMAN[@]}" build --quiet "${LIMITS[@]}" --build-arg "BASE=$base" \
  -f deploy/Containerfile -t "$IMAGE" "$context" >/dev/null

# The image this build replaced is left untagged: remove it (only if nothing else names or uses
# it), so that builds do not pile up gigabytes in podman's store.
current=$("${PODMAN[@]}" image inspect --format '{{.Id}}' "$IMAGE")
if [ -n "$previous" ] && [ "$previous" != "$current" ]; then
  tags=$("${PODMAN[@]}" image inspect --format '{{len .RepoTags}}' "$previous" 2>/dev/null || echo 1)
  [ "$tags" = 0 ] && "${PODMAN[@]}" rmi "$previous" >/dev/null 2>&1 || true
fi

ldd_out=$("${PODMAN[@]}" run --rm "${LIMITS[@]}" --entrypoint /bin/sh "$IMAGE" -c \
  'ldd /usr/local/bin/ovstream /usr/local/lib/gstreamer-1.0/libgstovstream.so /opt/openvino/libs/*.so*')
missing=$(grep "not found" <<<"$ldd_out" | sort -u || true)
if [ -n "$missing" ]; then
  echo "error: libraries missing in $IMAGE:" >&2
  echo "$missing" >&2
  exit 1
fi
size=$("${PODMAN[@]}" image inspect "$IMAGE" --format '{{.Size}}')
say "$IMAGE: $((size / 1000000)) MB, built in $(( $(date +%s) - started )) s; ldd: nothing missing"
