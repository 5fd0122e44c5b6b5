#!/usr/bin/env python3
"""The Python peer of `ovstream run` with an annotated MP4: the OpenVINO demo pattern, written
the way the Open Model Zoo / OpenVINO notebooks write it, so anyone can rerun the comparison.

- decode with OpenCV `VideoCapture` (BGR frames),
- preprocess with `cv2.resize` to the model size and BGR → RGB into a [1, H, W, 3] u8 tensor,
- infer with `AsyncInferQueue` (2 requests by default, `PERFORMANCE_HINT` THROUGHPUT),
- draw boxes and labels with `cv2.rectangle` / `cv2.putText` at `--threshold`,
- write `cv2.VideoWriter` with the `mp4v` FourCC (MPEG-4 Part 2 in MP4), frames in order.

The model is the same file ovstream loads for a manifest id (`models/<id>/model.xml`, or the
manifest's `file` when the model is not converted); SSD outputs are read as TF-OD-API tensors by
name or as a DetectionOutput `[1, 1, N, 7]`.

Prints one JSON line: frames, seconds (first frame read to file closed, model compile
excluded), fps, compile_ms.

    .venv/bin/python scripts/peer_pipeline.py [--model pedestrian-ssdlite] \
        [--input samples/vtest.avi] [--output /tmp/peer.mp4] [--nireq 2]

Compare: `ovstream run pipelines/pedestrians.toml --output /tmp/ov.mp4 --metadata ''` on the
same clip (its summary prints the FPS), alternating the two (see docs/benchmarks.md).
"""

import argparse
import json
import os
import sys
import time
import tomllib

import cv2
import numpy as np
import openvino as ov

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TF_OD_API = ["detection_boxes:0", "detection_scores:0", "detection_classes:0", "num_detections:0"]
COLORS = [(0, 255, 0), (64, 64, 255), (255, 128, 64), (0, 200, 255)]


def model_path(model: str) -> tuple[str, list[str]]:
    """A manifest id → (model file, labels); a path → (path, [])."""
    if os.path.exists(model):
        return model, []
    with open(os.path.join(ROOT, "models/manifest.toml"), "rb") as f:
        entries = {m["id"]: m for m in tomllib.load(f)["model"]}
    if model not in entries:
        sys.exit(f"peer_pipeline: {model}: not a file nor a model id in models/manifest.toml")
    entry = entries[model]
    folder = os.path.join(ROOT, "models", model)
    labels = entry.get("labels", [])
    labels_file = os.path.join(folder, "labels.txt")
    if not labels and os.path.exists(labels_file):
        with open(labels_file) as f:
            labels = [line.strip() for line in f if line.strip()]
    xml = os.path.join(folder, "model.xml")
    if os.path.exists(xml):
        return xml, labels
    return os.path.join(folder, os.path.basename(entry["file"])), labels


def detections(request, tf_od_api: bool, threshold: float):
    """[(label_id, score, (xmin, ymin, xmax, ymax) normalized)] at or above `threshold`."""
    if tf_od_api:
        boxes, scores, classes, num = (request.get_tensor(n).data for n in TF_OD_API)
        rows = [(classes[0, k], scores[0, k], boxes[0, k][[1, 0, 3, 2]])
                for k in range(int(num[0]))]
    else:
        rows = []
        for r in request.get_output_tensor(0).data.reshape(-1, 7):
            if r[0] < 0:
                break
            rows.append((r[1], r[2], r[3:7]))
    return [(int(label), float(score), np.clip(box, 0.0, 1.0).copy())
            for label, score, box in rows if score >= threshold]


def draw(frame, objects, labels):
    h, w = frame.shape[:2]
    for label, score, (x0, y0, x1, y1) in objects:
        color = COLORS[label % len(COLORS)]
        p0, p1 = (int(x0 * w), int(y0 * h)), (int(x1 * w), int(y1 * h))
        cv2.rectangle(frame, p0, p1, color, 2)
        name = labels[label - 1] if 0 < label <= len(labels) else str(label)
        cv2.putText(frame, f"{name} {score:.2f}", (p0[0], max(p0[1] - 4, 12)),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.5, color, 1)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="pedestrian-ssdlite")
    ap.add_argument("--input", default=os.path.join(ROOT, "samples/vtest.avi"))
    ap.add_argument("--output", default="/tmp/peer_pipeline.mp4")
    ap.add_argument("--nireq", type=int, default=2)
    ap.add_argument("--threshold", type=float, default=0.5)
    ap.add_argument("--size", nargs=2, type=int, default=[300, 300], metavar=("H", "W"))
    ap.add_argument("--device", default="CPU")
    args = ap.parse_args()
    mh, mw = args.size
    path, labels = model_path(args.model)

    core = ov.Core()
    started = time.perf_counter()
    model = core.read_model(path)
    if model.inputs[0].partial_shape.is_dynamic:
        model.reshape({model.inputs[0].any_name: [1, mh, mw, 3]})
    names = set().union(*(o.names for o in model.outputs))
    tf_od_api = all(n in names for n in TF_OD_API)
    compiled = core.compile_model(model, args.device, {"PERFORMANCE_HINT": "THROUGHPUT"})
    compile_ms = (time.perf_counter() - started) * 1000

    capture = cv2.VideoCapture(args.input)
    if not capture.isOpened():
        sys.exit(f"peer_pipeline: cannot open {args.input}")
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
    height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
    writer = cv2.VideoWriter(args.output, cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    if not writer.isOpened():
        sys.exit(f"peer_pipeline: cannot write {args.output}")

    done = {}  # frame index → (frame, objects), filled by the callback (any order)

    def on_done(request, userdata):
        index, frame = userdata
        done[index] = (frame, detections(request, tf_od_api, args.threshold))

    queue = ov.AsyncInferQueue(compiled, args.nireq)
    queue.set_callback(on_done)
    next_out = 0

    def write_ready():
        nonlocal next_out
        while next_out in done:
            frame, objects = done.pop(next_out)
            draw(frame, objects, labels)
            writer.write(frame)
            next_out += 1

    start = time.perf_counter()
    index = 0
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        tensor = cv2.cvtColor(cv2.resize(frame, (mw, mh)), cv2.COLOR_BGR2RGB)[np.newaxis]
        queue.start_async({0: tensor}, (index, frame))
        index += 1
        write_ready()
    queue.wait_all()
    write_ready()
    writer.release()
    seconds = time.perf_counter() - start
    print(json.dumps({"frames": index, "written": next_out, "seconds": round(seconds, 3),
                      "fps": round(index / seconds, 1), "compile_ms": round(compile_ms),
                      "nireq": args.nireq, "model": path}))
    return 0 if next_out == index else 1


if __name__ == "__main__":
    sys.exit(main())
