#!/usr/bin/env python3
"""Writes the golden YOLO detections for a video with OpenVINO's Python API (f32), the
Ultralytics way.

The reference does what Ultralytics' `predict` does, independently of ovstream:
- decode with the same GStreamer elements as ovstream (`decodebin ! videoconvert ! I420`), so
  both see the same pixels (see ssd_reference.py),
- letterbox as `ultralytics.data.augment.LetterBox`: gain r = min(640/h, 640/w), the image
  resized to round(w*r) x round(h*r) (`--resize`: as ovstream's `[model] resize`, see
  ssd_reference.py; default `rgb`: converted, then INTER_LINEAR), centered on a
  gray (114) canvas with top = round(dh - 0.1), left = round(dw - 0.1); /255; NCHW f32,
- run with INFERENCE_PRECISION_HINT=f32,
- decode the `[1, 4+nc, N]` head: confidence = best class score, class-aware NMS (IoU 0.45),
  boxes scaled back (`scale_boxes`) and clipped.

Output JSON: {"model", "video", "size", "min_score", "iou", "labels", "frames": [{"frame": i,
"objects": [{"box": [x_min, y_min, x_max, y_max] (normalized), "score", "label_id" (0-based),
"label"}]}]}

Usage: .venv/bin/python tests/golden/yolo_reference.py MODEL VIDEO OUT.json \
           --labels Normal Fall [--frames 100] [--size 640]
"""

import argparse
import json
import sys

import cv2
import numpy as np
import openvino as ov

from ssd_reference import i420_frames, resize_to_rgb, video_size


def letterbox(y, u, v, size: int, resize: str):
    h, w = y.shape
    r = min(size / h, size / w)
    nw, nh = int(round(w * r)), int(round(h * r))
    nw, nh = nw - nw % 2, nh - nh % 2  # I420 planes need even sizes
    rgb = resize_to_rgb(y, u, v, nw, nh, resize)
    dw, dh = (size - nw) / 2, (size - nh) / 2
    top, left = int(round(dh - 0.1)), int(round(dw - 0.1))
    canvas = np.full((size, size, 3), 114, np.uint8)
    canvas[top:top + nh, left:left + nw] = rgb
    x = canvas.astype(np.float32).transpose(2, 0, 1)[np.newaxis] / 255.0
    return x, r, left, top


def nms(boxes, scores, iou):
    order = scores.argsort()[::-1]
    keep = []
    while order.size:
        i = order[0]
        keep.append(i)
        xx1 = np.maximum(boxes[i, 0], boxes[order[1:], 0])
        yy1 = np.maximum(boxes[i, 1], boxes[order[1:], 1])
        xx2 = np.minimum(boxes[i, 2], boxes[order[1:], 2])
        yy2 = np.minimum(boxes[i, 3], boxes[order[1:], 3])
        inter = np.clip(xx2 - xx1, 0, None) * np.clip(yy2 - yy1, 0, None)
        area = lambda b: (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])  # noqa: E731
        union = area(boxes[i:i + 1]) + area(boxes[order[1:]]) - inter
        order = order[1:][inter / union <= iou]
    return keep


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("video")
    ap.add_argument("out")
    ap.add_argument("--labels", nargs="+", required=True)
    ap.add_argument("--size", type=int, default=640)
    ap.add_argument("--frames", type=int, default=0, help="stop after this many (0: all)")
    ap.add_argument("--resize", choices=["rgb", "planes"], default="rgb",
                    help="as ovstream's [model] resize (see ssd_reference.py)")
    ap.add_argument("--min-score", type=float, default=0.3)
    ap.add_argument("--iou", type=float, default=0.45)
    args = ap.parse_args()

    core = ov.Core()
    compiled = core.compile_model(args.model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    request = compiled.create_infer_request()
    w, h = video_size(args.video)
    frames = []
    for i, (y, u, v) in enumerate(i420_frames(args.video, w, h)):
        if args.frames and i >= args.frames:
            break
        x, r, left, top = letterbox(y, u, v, args.size, args.resize)
        request.infer({0: x})
        out = request.get_output_tensor(0).data[0]  # [4 + nc, N]
        scores_all = out[4:].T
        cls = scores_all.argmax(1)
        conf = scores_all.max(1)
        sel = conf >= args.min_score
        cx, cy, bw, bh = out[:4, sel]
        boxes = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], 1)
        conf, cls = conf[sel], cls[sel]
        objects = []
        for c in np.unique(cls):
            idx = np.where(cls == c)[0]
            for k in nms(boxes[idx], conf[idx], args.iou):
                b = boxes[idx[k]]
                x1 = np.clip((b[0] - left) / r, 0, w) / w
                y1 = np.clip((b[1] - top) / r, 0, h) / h
                x2 = np.clip((b[2] - left) / r, 0, w) / w
                y2 = np.clip((b[3] - top) / r, 0, h) / h
                objects.append({"box": [float(x1), float(y1), float(x2), float(y2)],
                                "score": float(conf[idx[k]]), "label_id": int(c),
                                "label": args.labels[int(c)]})
        objects.sort(key=lambda o: -o["score"])
        frames.append({"frame": i, "objects": objects})
    result = {"model": args.model, "video": args.video, "size": [args.size, args.size],
              "min_score": args.min_score, "iou": args.iou, "labels": args.labels,
              "openvino": ov.get_version(), "frames": frames}
    with open(args.out, "w") as fh:
        json.dump(result, fh, separators=(",", ":"))
        fh.write("\n")
    print(f"wrote {args.out}: {len(frames)} frames", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
