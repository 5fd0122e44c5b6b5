#!/usr/bin/env python3
"""Make the camera stand-in clip from samples/vtest.avi (nothing new is downloaded).

A camera watching a walkway: H.264 1280x720 at 30 fps, 2 minutes, encoded as a typical IP
camera's main stream (Main profile, 2 Mbit/s, no B-frames, 2 s GOP). Three activity stretches of
10 s (vtest's walkers; vtest is 10 fps, so each of its frames is shown 3 times) and idle
stretches in between (vtest's per-pixel median over the whole clip, which removes the walkers),
all with the same sensor-like noise (Gaussian, sigma 3 grey levels, fresh every frame). vtest is
4:3; the 16:9 picture is its middle 768x432 rows scaled by 5/3.

Writes OUT (default samples/camera_walkway.mp4) and OUT with `.json` (the layout: fps, frames,
the active stretches as [first, end) frame numbers), cached in ~/.cache/ovstream/derived under
this script's sha256, so a second run only copies.

Usage: camera_clip.py [--vtest samples/vtest.avi] [--out samples/camera_walkway.mp4]
"""
import argparse
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

WIDTH, HEIGHT, FPS = 1280, 720, 30
SECONDS = 120
REPEAT = 3  # vtest is 10 fps: each of its frames is shown 3 times at 30 fps
# (start second in the clip, first vtest frame): 10 s each, a quarter of the clip.
ACTIVE = [(10, 0), (45, 250), (80, 500)]
ACTIVE_SECONDS = 10
NOISE_SIGMA = 3.0
NOISE_BANK = 32  # distinct noise fields, drawn in a shuffled order
CROP_ROWS = (72, 504)  # vtest's middle 432 rows: 768x432 is 16:9
SEED = 20261202
# A typical IP camera's 720p main stream: H.264 Main, 2 Mbit/s, no B-frames, a 2 s GOP.
KBPS = 2048
GOP = 60


def vtest_frames(path):
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        crop = frame[CROP_ROWS[0]:CROP_ROWS[1]]
        frames.append(cv2.resize(crop, (WIDTH, HEIGHT), interpolation=cv2.INTER_LINEAR))
    if len(frames) < 600:
        sys.exit(f"error: {path}: {len(frames)} frames read, expected vtest.avi's 795")
    return frames


def active_frame(n):
    """The vtest frame shown at clip frame n, or None in an idle stretch."""
    second = n / FPS
    for start, first in ACTIVE:
        if start <= second < start + ACTIVE_SECONDS:
            return first + (n - start * FPS) // REPEAT
    return None


def make(vtest, out):
    frames = vtest_frames(vtest)
    background = np.median(np.stack(frames[::8]), axis=0).astype(np.uint8)
    rng = np.random.default_rng(SEED)
    noise = rng.normal(0.0, NOISE_SIGMA, size=(NOISE_BANK, HEIGHT, WIDTH, 1))
    noise = np.repeat(np.rint(noise).astype(np.int16), 3, axis=3)
    plus = np.clip(noise, 0, 255).astype(np.uint8)
    minus = np.clip(-noise, 0, 255).astype(np.uint8)
    order = rng.integers(0, NOISE_BANK, size=SECONDS * FPS)
    tmp = out.with_suffix(".part.mp4")
    encode = subprocess.Popen(
        [
            "gst-launch-1.0", "-q", "fdsrc", "fd=0", "blocksize=%d" % (WIDTH * HEIGHT * 3), "!",
            "rawvideoparse", f"width={WIDTH}", f"height={HEIGHT}", "format=bgr",
            f"framerate={FPS}/1", "!", "videoconvert", "!", "video/x-raw,format=I420", "!",
            "x264enc", "speed-preset=veryfast", f"key-int-max={GOP}", f"bitrate={KBPS}",
            "bframes=0", "!", "video/x-h264,profile=main", "!", "h264parse", "!", "mp4mux", "!",
            "filesink", f"location={tmp}",
        ],
        stdin=subprocess.PIPE,
    )
    for n in range(SECONDS * FPS):
        k = active_frame(n)
        base = background if k is None else frames[k]
        picture = cv2.subtract(cv2.add(base, plus[order[n]]), minus[order[n]])
        encode.stdin.write(picture.tobytes())
    encode.stdin.close()
    if encode.wait() != 0:
        sys.exit("error: gst-launch-1.0 (x264enc) failed writing the camera clip")
    tmp.replace(out)
    layout = {
        "width": WIDTH,
        "height": HEIGHT,
        "fps": FPS,
        "frames": SECONDS * FPS,
        "active": [[s * FPS, (s + ACTIVE_SECONDS) * FPS] for s, _ in ACTIVE],
        "noise_sigma": NOISE_SIGMA,
    }
    out.with_suffix(".json").write_text(json.dumps(layout, indent=1) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vtest", type=Path, default=Path("samples/vtest.avi"))
    ap.add_argument("--out", type=Path, default=Path("samples/camera_walkway.mp4"))
    args = ap.parse_args()
    digest = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]
    cache = Path.home() / ".cache/ovstream/derived" / f"camera_walkway-{digest}.mp4"
    if not cache.exists():
        cache.parent.mkdir(parents=True, exist_ok=True)
        print(f"==> making the camera stand-in clip {cache} (about a minute)", file=sys.stderr)
        make(args.vtest, cache)
    for src, dst in [(cache, args.out), (cache.with_suffix(".json"), args.out.with_suffix(".json"))]:
        if not dst.exists() or dst.stat().st_size != src.stat().st_size:
            shutil.copyfile(src, dst)


if __name__ == "__main__":
    main()
