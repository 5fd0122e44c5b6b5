#!/usr/bin/env python3
"""Writes the golden SSD detections for a video with OpenVINO's Python API (f32).

The reference does what ovstream does, independently:
- decode with the same GStreamer elements (`decodebin ! videoconvert ! I420`, via gst-launch),
- preprocess with cv2 as `[model] resize` says: `rgb` (the default) converts the whole frame
  (COLOR_YUV2RGB_I420) and resizes the RGB image (INTER_LINEAR) to the model size, the way the
  model was trained and calibrated; `planes` resizes each I420 plane (INTER_LINEAR) to the model
  size, then converts; either way into a [1, H, W, 3] u8 NHWC RGB tensor. The conversion is
  BT.601 limited range, as ovstream's is for SD video (the golden clips); ovstream converts
  BT.709 (HD) and full-range frames by their own colorimetry, which this script does not,
- run the model with INFERENCE_PRECISION_HINT=f32 (`--precision`) and read either the TF-OD-API
  outputs by name or a DetectionOutput `[1, 1, N, 7]` output (converted TFLite / Open Model Zoo
  SSDs).

`--decode opencv` decodes and resizes the way the OpenVINO demos do instead (`cv2.VideoCapture`
BGR frames, `cv2.resize`, BGR to RGB): an independent check that also differs in the colour
conversion (FFmpeg's swscale, ~1 level darker on vtest than OpenCV's BT.601).

Output JSON: {"model", "video", "size", "min_score", "frames": [{"frame": i, "objects":
[{"box": [x_min, y_min, x_max, y_max] (normalized), "score", "label_id"}]}]}

Usage: .venv/bin/python tests/golden/ssd_reference.py MODEL VIDEO OUT.json [--size 300 300]
           [--resize rgb|planes] [--precision f32|bf16|f16|device] [--frames N]
"""

import argparse
import json
import re
import subprocess
import sys

import cv2
import numpy as np
import openvino as ov

OUTPUTS = ["detection_boxes:0", "detection_scores:0", "detection_classes:0", "num_detections:0"]


def round_up(x: int, n: int) -> int:
    return (x + n - 1) // n * n


def video_size(path: str) -> tuple[int, int]:
    out = subprocess.run(["gst-discoverer-1.0", path], capture_output=True, text=True, check=True)
    w = int(re.search(r"Width: (\d+)", out.stdout).group(1))
    h = int(re.search(r"Height: (\d+)", out.stdout).group(1))
    return w, h


def i420_frames(path: str, w: int, h: int):
    """Yields (Y, U, V) planes as GStreamer lays out I420 (strides rounded up to 4)."""
    y_stride, c_stride = round_up(w, 4), round_up(round_up(w, 2) // 2, 4)
    y_size, c_h = y_stride * round_up(h, 2), round_up(h, 2) // 2
    c_size = c_stride * c_h
    frame_size = y_size + 2 * c_size
    cmd = ["gst-launch-1.0", "-q", "filesrc", f"location={path}", "!", "decodebin", "!",
           "videoconvert", "!", "video/x-raw,format=I420", "!", "fdsink", "fd=1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE)
    try:
        while True:
            data = proc.stdout.read(frame_size)
            if len(data) < frame_size:
                break
            buf = np.frombuffer(data, np.uint8)
            y = buf[:y_size].reshape(-1, y_stride)[:h, :w]
            u = buf[y_size:y_size + c_size].reshape(c_h, c_stride)[:(h + 1) // 2, :(w + 1) // 2]
            v = buf[y_size + c_size:].reshape(c_h, c_stride)[:(h + 1) // 2, :(w + 1) // 2]
            yield y, u, v
    finally:
        proc.stdout.close()
        proc.wait()


def resize_to_rgb(y, u, v, width: int, height: int, resize: str = "rgb") -> np.ndarray:
    """An I420 frame as a `height` x `width` x 3 u8 RGB image (even sizes), as ovstream's
    `[model] resize` says: `rgb` converts the whole frame (COLOR_YUV2RGB_I420, BT.601) then
    resizes it (INTER_LINEAR); `planes` resizes each plane (INTER_LINEAR) then converts."""
    if resize == "rgb":
        h, w = y.shape[0] // 2 * 2, y.shape[1] // 2 * 2  # odd sizes: the last row/column is left
        i420 = np.concatenate([y[:h, :w].reshape(-1), u[:h // 2, :w // 2].reshape(-1),
                               v[:h // 2, :w // 2].reshape(-1)])
        rgb = cv2.cvtColor(i420.reshape(h * 3 // 2, w), cv2.COLOR_YUV2RGB_I420)
        return cv2.resize(rgb, (width, height), interpolation=cv2.INTER_LINEAR)
    planes = [cv2.resize(y, (width, height), interpolation=cv2.INTER_LINEAR),
              cv2.resize(u, (width // 2, height // 2), interpolation=cv2.INTER_LINEAR),
              cv2.resize(v, (width // 2, height // 2), interpolation=cv2.INTER_LINEAR)]
    i420 = np.concatenate([p.reshape(-1) for p in planes])
    return cv2.cvtColor(i420.reshape(height * 3 // 2, width), cv2.COLOR_YUV2RGB_I420)


def opencv_tensors(path: str, mh: int, mw: int):
    """Yields [1, H, W, 3] RGB tensors the way the OpenVINO demos make them."""
    capture = cv2.VideoCapture(path)
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        resized = cv2.resize(frame, (mw, mh), interpolation=cv2.INTER_LINEAR)
        yield cv2.cvtColor(resized, cv2.COLOR_BGR2RGB)[np.newaxis]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("video")
    ap.add_argument("out")
    ap.add_argument("--size", nargs=2, type=int, default=[300, 300], metavar=("H", "W"))
    ap.add_argument("--min-score", type=float, default=0.3)
    ap.add_argument("--frames", type=int, default=0, help="stop after this many (0: all)")
    ap.add_argument("--resize", choices=["rgb", "planes"], default="rgb")
    ap.add_argument("--decode", choices=["gstreamer", "opencv"], default="gstreamer",
                    help="opencv: the OpenVINO demos' pattern (VideoCapture BGR frames, cv2.resize, "
                         "BGR to RGB), an independent check of the colour conversion")
    ap.add_argument("--precision", default="f32",
                    help="INFERENCE_PRECISION_HINT (f32, bf16, f16) or `device` for the CPU's own")
    args = ap.parse_args()
    mh, mw = args.size

    core = ov.Core()
    model = core.read_model(args.model)
    if model.inputs[0].partial_shape.is_dynamic:
        model.reshape({model.inputs[0].any_name: [1, mh, mw, 3]})
    names = set().union(*(o.names for o in model.outputs))
    tf_od_api = all(n in names for n in OUTPUTS)
    config = {} if args.precision == "device" else {"INFERENCE_PRECISION_HINT": args.precision}
    compiled = core.compile_model(model, "CPU", config)
    request = compiled.create_infer_request()

    if args.decode == "opencv":
        tensors = opencv_tensors(args.video, mh, mw)
    else:
        w, h = video_size(args.video)
        tensors = (resize_to_rgb(y, u, v, mw, mh, args.resize)[np.newaxis]
                   for y, u, v in i420_frames(args.video, w, h))
    frames = []
    for i, tensor in enumerate(tensors):
        if args.frames and i == args.frames:
            break
        request.infer({0: tensor})
        objects = []
        if tf_od_api:
            boxes, scores, classes, num = (request.get_tensor(n).data for n in OUTPUTS)
            rows = [(classes[0, k], scores[0, k], boxes[0, k][[1, 0, 3, 2]])
                    for k in range(int(num[0]))]
        else:
            rows = []
            for r in request.get_output_tensor(0).data.reshape(-1, 7):
                if r[0] < 0:
                    break
                rows.append((r[1], r[2], r[3:7]))
        for label, score, box in rows:
            if score < args.min_score:
                continue
            xmin, ymin, xmax, ymax = (float(c) for c in np.clip(box, 0.0, 1.0))
            objects.append({"box": [xmin, ymin, xmax, ymax], "score": float(score),
                            "label_id": int(round(float(label)))})
        frames.append({"frame": i, "objects": objects})
    result = {"model": args.model, "video": args.video, "size": [mh, mw],
              "min_score": args.min_score, "resize": args.resize,
              "decode": args.decode, "precision": args.precision, "openvino": ov.get_version(), "frames": frames}
    with open(args.out, "w") as fh:
        json.dump(result, fh, separators=(",", ":"))
        fh.write("\n")
    print(f"wrote {args.out}: {len(frames)} frames", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
