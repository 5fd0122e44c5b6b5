#!/usr/bin/env python3
"""Writes a fall-test clip: one pedestrian of vtest.avi's first frame, at three times the size
on a plain gray background near the bottom, upright or rotated 90° counterclockwise (lying
down), per segment of the clip. On the lying pedestrian fall-yolov8 reports `Fall` (~0.73 at
f32, checked against other crops, scales and rotations: this one is far from the 0.5
threshold), on the upright one `Normal`.

    fall_clip.py samples/vtest.avi OUT.avi --fps 10 --segments up:10,fall:40,up:10

Motion JPEG in AVI (OpenCV's built-in writer, quality 95; GStreamer decodes it with jpegdec).
"""
import argparse
import sys

import cv2

# The pedestrian near (0.82..0.91, 0.40..0.57) of vtest's frame 0 (normalized x, y).
CROP = (0.82, 0.40, 0.91, 0.57)
SCALE = 3
GRAY = 128


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("video")
    ap.add_argument("out")
    ap.add_argument("--fps", type=float, default=10.0)
    ap.add_argument("--segments", required=True, help="up:N,fall:N,… (frames each)")
    args = ap.parse_args()
    cap = cv2.VideoCapture(args.video)
    ok, background = cap.read()
    if not ok:
        sys.exit(f"{args.video}: cannot read a frame")
    h, w = background.shape[:2]
    x1, y1, x2, y2 = (int(CROP[0] * w), int(CROP[1] * h), int(CROP[2] * w), int(CROP[3] * h))
    person = cv2.resize(background[y1:y2, x1:x2], None, fx=SCALE, fy=SCALE)
    poses = {"up": person, "fall": cv2.rotate(person, cv2.ROTATE_90_COUNTERCLOCKWISE)}
    background[:] = GRAY
    writer = cv2.VideoWriter(args.out, cv2.VideoWriter_fourcc(*"MJPG"), args.fps, (w, h))
    writer.set(cv2.VIDEOWRITER_PROP_QUALITY, 95)
    for segment in args.segments.split(","):
        pose, n = segment.split(":")
        frame = background.copy()
        p = poses[pose]
        ph, pw = p.shape[:2]
        oy, ox = h - ph - 20, (w - pw) // 2
        frame[oy:oy + ph, ox:ox + pw] = p
        for _ in range(int(n)):
            writer.write(frame)
    writer.release()
    return 0


if __name__ == "__main__":
    sys.exit(main())
