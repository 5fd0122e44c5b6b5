#!/usr/bin/env python3
"""Writes a test clip in which photos move on known straight-line paths over a gray background
(the ground truth of the analytics tests: where each object is in every frame).

    moving_objects.py OUT.avi --size 640x360 --fps 25 --frames 150 \
        --object samples/faces/obama.jpg 120 "0:40,120;100:480,120"

Each --object is IMAGE HEIGHT PATH: the photo scaled to HEIGHT pixels (aspect kept), its
top-left corner at the keyframes of PATH (`frame:x,y;frame:x,y;…`, pixels), linearly
interpolated between them; the object is in the clip from its first to its last keyframe.
Motion JPEG in AVI (OpenCV's built-in writer; GStreamer decodes it with jpegdec).
"""
import argparse
import sys

import cv2
import numpy as np


def parse_path(text):
    keys = []
    for part in text.split(";"):
        f, xy = part.split(":")
        x, y = xy.split(",")
        keys.append((int(f), float(x), float(y)))
    keys.sort()
    return keys


def position(keys, frame):
    """Top-left corner at `frame`, or None outside the keyframes."""
    if frame < keys[0][0] or frame > keys[-1][0]:
        return None
    for (f0, x0, y0), (f1, x1, y1) in zip(keys, keys[1:]):
        if f0 <= frame <= f1:
            t = 0.0 if f1 == f0 else (frame - f0) / (f1 - f0)
            return x0 + t * (x1 - x0), y0 + t * (y1 - y0)
    return keys[-1][1], keys[-1][2]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--size", default="640x360")
    ap.add_argument("--fps", type=float, default=25.0)
    ap.add_argument("--frames", type=int, required=True)
    ap.add_argument("--object", nargs=3, action="append", metavar=("IMAGE", "HEIGHT", "PATH"), default=[])
    args = ap.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    objects = []
    for image, h, path in args.object:
        photo = cv2.imread(image)
        if photo is None:
            sys.exit(f"{image}: cannot read")
        h = int(h)
        w = round(photo.shape[1] * h / photo.shape[0])
        objects.append((cv2.resize(photo, (w, h), interpolation=cv2.INTER_AREA), parse_path(path)))
    writer = cv2.VideoWriter(args.out, cv2.VideoWriter_fourcc(*"MJPG"), args.fps, (width, height))
    if not writer.isOpened():
        sys.exit(f"{args.out}: cannot open the MJPG writer")
    for frame in range(args.frames):
        canvas = np.full((height, width, 3), 128, np.uint8)
        for photo, keys in objects:
            pos = position(keys, frame)
            if pos is None:
                continue
            x, y = round(pos[0]), round(pos[1])
            ph, pw = photo.shape[:2]
            # Clip to the frame.
            x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + pw, width), min(y + ph, height)
            if x1 > x0 and y1 > y0:
                canvas[y0:y1, x0:x1] = photo[y0 - y:y1 - y, x0 - x:x1 - x]
        writer.write(canvas)
    writer.release()


if __name__ == "__main__":
    main()
