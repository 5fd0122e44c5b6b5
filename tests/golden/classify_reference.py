#!/usr/bin/env python3
"""Runs a classifier's model files with OpenVINO's Python API (f32) on the crops ovstream cut,
and compares with what ovstream computed on them.

ovstream writes every crop (binary PPM, RGB) and its raw output rows to `crops.jsonl` when
`OVSTREAM_DEBUG_DUMP_CROPS_DIR` is set. This script reads the classifier's entry from
models/manifest.toml (the package's normalization, labels and age bins), normalizes each crop
itself ((RGB byte - mean) / scale, NCHW), infers, and decodes both its own row and ovstream's:
`label` outputs to the argmax label, `value` outputs to the expectation over the bins.

Output JSON: {"classifier", "crops", "compared": [{"crop", "attribute", "kind", "ours",
"reference"}]}

Usage: .venv/bin/python tests/golden/classify_reference.py DUMP_DIR [--classifier age-gender]
       [--models models]
"""

import argparse
import json
import sys
import tomllib
from pathlib import Path

import cv2
import numpy as np
import openvino as ov


def decode(spec: dict, row: np.ndarray):
    if spec["kind"] == "label":
        return spec["labels"][int(np.argmax(row))]
    if spec["kind"] == "value":
        p = row / row.sum()
        return float((p * np.asarray(spec["bins"], np.float64)).sum())
    raise SystemExit(f"kind {spec['kind']} is not compared here")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dump", type=Path)
    ap.add_argument("--classifier", default="age-gender")
    ap.add_argument("--models", type=Path, default=Path("models"))
    args = ap.parse_args()
    with open(args.models / "manifest.toml", "rb") as fh:
        entry = next(c for c in tomllib.load(fh)["classifier"] if c["id"] == args.classifier)
    mean = np.asarray(entry["mean"], np.float32)
    scale = np.float32(entry["scale"])
    core = ov.Core()
    compiled = {}
    compared = []
    lines = (args.dump / "crops.jsonl").read_text().splitlines()
    for line in lines:
        rec = json.loads(line)
        model_file = rec["model_file"]
        if model_file not in compiled:
            model = core.read_model(args.models / args.classifier / model_file)
            compiled[model_file] = core.compile_model(
                model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
        bgr = cv2.imread(str(args.dump / rec["crop"]), cv2.IMREAD_COLOR)
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB).astype(np.float32)
        x = ((rgb - mean) / scale).transpose(2, 0, 1)[None]
        result = compiled[model_file]([x])
        for name, ours in rec["outputs"].items():
            spec = next(o for o in entry["outputs"] if o["name"] == name)
            tensor = result[compiled[model_file].output(spec.get("tensor", 0))][0]
            compared.append({
                "crop": rec["crop"],
                "attribute": name,
                "kind": spec["kind"],
                "ours": decode(spec, np.asarray(ours, np.float64)),
                "reference": decode(spec, tensor.astype(np.float64)),
            })
    json.dump({"classifier": args.classifier, "crops": len(lines), "compared": compared},
              sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
