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

`--substream WxH@FPS` also writes the same camera's detection substream, OUT's stem +
`_sub.mp4` (and its `.json`): the main stream scaled to WxH at FPS frames/s and encoded again,
the way a camera's second encoder serves it (H.264 Main, SUB_KBPS, a 2 s GOP). Frigate's cameras
detect on such a stream (`roles: [detect]`, its docs suggest 5 fps) and record the main one.

Usage: camera_clip.py [--vtest samples/vtest.avi] [--out samples/camera_walkway.mp4]
                      [--substream 640x360@5]
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
# A typical camera's substream bitrate (640x360).
SUB_KBPS = 512


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


def substream(main, out, size):
    """Scales and re-encodes `main` to `size` (WxH@FPS) as `out`, with the layout beside it."""
    dims, fps = size.lower().split("@")
    width, height = (int(v) for v in dims.split("x"))
    fps = int(fps)
    if FPS % fps:
        sys.exit(f"error: --substream {size}: the frame rate must divide {FPS}")
    tmp = out.with_suffix(".part.mp4")
    command = [
        "gst-launch-1.0", "-q", "filesrc", f"location={main}", "!", "qtdemux", "!", "h264parse",
        "!", "avdec_h264", "!", "videorate", "!", "videoscale", "!",
        f"video/x-raw,width={width},height={height},framerate={fps}/1", "!",
        "x264enc", "speed-preset=veryfast", f"key-int-max={2 * fps}", f"bitrate={SUB_KBPS}",
        "bframes=0", "!", "video/x-h264,profile=main", "!", "h264parse", "!", "mp4mux", "!",
        "filesink", f"location={tmp}",
    ]
    if subprocess.run(command).returncode != 0:
        sys.exit(f"error: gst-launch-1.0 failed writing the substream {out}")
    tmp.replace(out)
    layout = json.loads(main.with_suffix(".json").read_text())
    step = FPS // fps
    layout.update(
        width=width,
        height=height,
        fps=fps,
        frames=layout["frames"] // step,
        active=[[a // step, b // step] for a, b in layout["active"]],
    )
    out.with_suffix(".json").write_text(json.dumps(layout, indent=1) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vtest", type=Path, default=Path("samples/vtest.avi"))
    ap.add_argument("--out", type=Path, default=Path("samples/camera_walkway.mp4"))
    ap.add_argument("--substream", metavar="WxH@FPS", help="also write OUT's stem + _sub.mp4")
    args = ap.parse_args()
    digest = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]
    cache = Path.home() / ".cache/ovstream/derived" / f"camera_walkway-{digest}.mp4"
    if not cache.exists():
        cache.parent.mkdir(parents=True, exist_ok=True)
        print(f"==> making the camera stand-in clip {cache} (about a minute)", file=sys.stderr)
        make(args.vtest, cache)
    copies = [(cache, args.out)]
    if args.substream:
        sub = cache.with_name(f"{cache.stem}-sub-{args.substream}.mp4")
        if not sub.exists():
            print(f"==> making its {args.substream} substream {sub}", file=sys.stderr)
            substream(cache, sub, args.substream)
        copies.append((sub, args.out.with_name(args.out.stem + "_sub.mp4")))
    for src, dst in copies:
        for a, b in [(src, dst), (src.with_suffix(".json"), dst.with_suffix(".json"))]:
            if not b.exists() or b.stat().st_size != a.stat().st_size:
                shutil.copyfile(a, b)


if __name__ == "__main__":
    main()
