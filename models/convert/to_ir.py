#!/usr/bin/env python3
"""Converts a model any OpenVINO frontend reads (TF frozen graph, ONNX, TFLite) to IR, with the
weights unchanged (kept in their precision: no FP16 compression) and, given `--input H W`, a
dynamic NHWC image input made static `[1, H, W, 3]`.

Why: reading IR takes ~0.08 s where a TF frozen graph takes ~0.7 s through the TensorFlow
frontend, and OpenVINO's compiled-model cache cannot skip that read. A static input spares the
runtime reshape (~0.07 s of shape inference over the TF-OD-API graph on every start; an NPU
needs static shapes anyway). The engine reshapes again only when asked for another size.

Usage: .venv/bin/python models/convert/to_ir.py IN_MODEL OUT.xml [--input H W]
"""
import argparse
import sys

import openvino as ov


def main() -> int:
    ap = argparse.ArgumentParser(usage=__doc__)
    ap.add_argument("model")
    ap.add_argument("xml")
    ap.add_argument("--input", nargs=2, type=int, metavar=("H", "W"))
    args = ap.parse_args()
    model = ov.Core().read_model(args.model)
    if args.input and len(model.inputs) == 1:
        shape = model.inputs[0].get_partial_shape()
        if shape.is_dynamic and shape.rank.get_length() == 4 and shape[3] == 3:
            model.reshape([1, args.input[0], args.input[1], 3])
    ov.save_model(model, args.xml, compress_to_fp16=False)
    print(f"wrote {args.xml} (input {model.inputs[0].get_partial_shape()})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
