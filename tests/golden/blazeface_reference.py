#!/usr/bin/env python3
"""Writes golden BlazeFace face detections for a video with OpenVINO's Python API (f32).

An independent reimplementation of what ovstream does, after MediaPipe's face detection graph:
- decode with the same GStreamer elements (I420, via gst-launch; see ssd_reference.py),
- letterbox: keep the aspect ratio, scale to fit the square input (even sizes), resize as
  ovstream's `[model] resize` says (`--resize`, default `rgb`: convert to RGB, then INTER_LINEAR;
  see ssd_reference.py), center on a black square, scale to [-1, 1],
- anchors per MediaPipe's SsdAnchorsCalculator (fixed anchor size, offset 0.5; layers with
  equal strides share a grid), decode per TensorsToDetectionsCalculator (scale = input size),
  sigmoid scores, MediaPipe's weighted NMS at IoU 0.3, boxes mapped back to the frame.

Output JSON: {"model", "video", "min_score", "frames": [{"frame": i, "objects": [{"box":
[x_min, y_min, x_max, y_max] (normalized to the frame, clamped), "score", "keypoints"}]}]}

Usage: .venv/bin/python tests/golden/blazeface_reference.py MODEL VIDEO OUT.json [--every N]
"""

import argparse
import json
import sys

import cv2
import numpy as np
import openvino as ov

from ssd_reference import i420_frames, resize_to_rgb, video_size

LAYOUTS = {  # input side -> (strides, anchors per layer and cell)
    128: ([8, 16, 16, 16], 2),
    192: ([4], 1),
    256: ([16, 32, 32, 32], 2),
}
NMS_IOU = 0.3


def anchors(side: int) -> np.ndarray:
    strides, per_layer = LAYOUTS[side]
    out, i = [], 0
    while i < len(strides):
        j = i
        while j < len(strides) and strides[j] == strides[i]:
            j += 1
        cells = -(-side // strides[i])
        for y in range(cells):
            for x in range(cells):
                out += [((x + 0.5) / cells, (y + 0.5) / cells)] * ((j - i) * per_layer)
        i = j
    return np.array(out, np.float32)


def letterbox(y, u, v, side: int, resize: str):
    h, w = y.shape
    scale = min(side / w, side / h)
    lw = min(max(int(round(w * scale / 2)) * 2, 2), side)
    lh = min(max(int(round(h * scale / 2)) * 2, 2), side)
    rgb = resize_to_rgb(y, u, v, lw, lh, resize)
    canvas = np.zeros((side, side, 3), np.uint8)
    px, py = (side - lw) // 2, (side - lh) // 2
    canvas[py:py + lh, px:px + lw] = rgb
    tensor = canvas.astype(np.float32)[np.newaxis] / 127.5 - 1.0
    return tensor, (lw, lh, px, py)


def iou(a, b) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return 0.0 if union <= 0 else inter / union


def weighted_nms(cands):
    cands = sorted(cands, key=lambda c: -c[0])
    out = []
    while cands:
        best = cands[0]
        cluster = [c for c in cands if c is best or iou(best[1], c[1]) > NMS_IOU]
        cands = [c for c in cands if not any(c is k for k in cluster)]
        total = sum(c[0] for c in cluster)
        box = sum(np.array(c[1]) * c[0] for c in cluster) / total
        kps = sum(np.array(c[2]) * c[0] for c in cluster) / total
        out.append((best[0], box, kps))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("video")
    ap.add_argument("out")
    ap.add_argument("--every", type=int, default=10, help="every Nth frame")
    ap.add_argument("--resize", choices=["rgb", "planes"], default="rgb",
                    help="as ovstream's [model] resize (see ssd_reference.py)")
    ap.add_argument("--min-score", type=float, default=0.5)
    args = ap.parse_args()

    core = ov.Core()
    model = core.read_model(args.model)
    side = model.inputs[0].get_partial_shape()[1].get_length()
    compiled = core.compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    outs = {tuple(o.get_partial_shape().to_shape())[-1]: o for o in compiled.outputs}
    regressors, scores = outs[16], outs[1]
    anc = anchors(side)
    w, h = video_size(args.video)
    frames = []
    for i, (y, u, v) in enumerate(i420_frames(args.video, w, h)):
        if i % args.every:
            continue
        tensor, (lw, lh, px, py) = letterbox(y, u, v, side, args.resize)
        res = compiled([tensor])
        raw = res[regressors][0]
        logits = res[scores][0][:, 0]
        prob = 1.0 / (1.0 + np.exp(-np.clip(logits, -100, 100)))
        cands = []
        for k in np.nonzero(prob >= args.min_score)[0]:
            r, (ax, ay) = raw[k] / side, anc[k]
            cx, cy, bw, bh = r[0] + ax, r[1] + ay, r[2], r[3]
            box = [cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2]
            kps = [[r[4 + 2 * j] + ax, r[5 + 2 * j] + ay] for j in range(6)]
            cands.append((float(prob[k]), box, kps))

        def to_frame(x, yy):
            return [(x * side - px) / lw, (yy * side - py) / lh]

        objects = []
        for score, box, kps in weighted_nms(cands):
            x0, y0 = to_frame(box[0], box[1])
            x1, y1 = to_frame(box[2], box[3])
            objects.append({
                "box": [float(np.clip(c, 0, 1)) for c in (x0, y0, x1, y1)],
                "score": score,
                "keypoints": [[float(c) for c in to_frame(*kp)] for kp in kps],
            })
        frames.append({"frame": i, "objects": objects})
    with open(args.out, "w") as f:
        json.dump({"model": args.model, "video": args.video, "min_score": args.min_score,
                   "frames": frames}, f, indent=1)
    print(f"wrote {args.out}: {len(frames)} frames", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
