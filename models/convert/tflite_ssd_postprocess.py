#!/usr/bin/env python3
"""Converts a TFLite SSD with the built-in `TFLite_Detection_PostProcess` op to OpenVINO IR.

OpenVINO's TFLite frontend has no translator for that custom op. This script registers a
`ConversionExtension` that replaces it with OpenVINO's `DetectionOutput`, built from the op's
own attributes and its three inputs:

- box encodings `[1, A, 4]` as `(ty, tx, th, tw)`, scaled by `(y_scale, x_scale, h_scale,
  w_scale)` → reordered to `(tx, ty, tw, th)` (what CENTER_SIZE decoding reads), with variances
  `1/x_scale, 1/y_scale, 1/w_scale, 1/h_scale`;
- class scores `[1, A, num_classes + 1]` (sigmoid already applied; class 0 is background);
- anchors `[A, 4]` as `(yc, xc, h, w)` → priors `(x_min, y_min, x_max, y_max)`, normalized.

Quantized (uint8) inputs are dequantized by converting them to f32 (the frontend resolves its
quantize nodes into the scale and zero point). The result has one output, `detection_out`
`[1, 1, KEEP_TOP_K, 7]`: `[image_id, label, confidence, x_min, y_min, x_max, y_max]`, the
layout ovstream's SSD adapter reads. Label L is class L of the TFLite model (1 = first class).

Usage: .venv/bin/python models/convert/tflite_ssd_postprocess.py IN.tflite OUT.xml
"""

import sys

import numpy as np
import openvino as ov
import openvino.opset13 as ops
from openvino.frontend import ConversionExtension, FrontEndManager

OP = "TFLite_Detection_PostProcess"
KEEP_TOP_K = 100  # rows of the output; more than the op's own max_detections, thresholds cut
TOP_K = 100  # candidates per class kept before NMS
# Candidates below this never reach NMS. The op's own nms_score_threshold (1e-8) would send all
# 1917 x 90 candidates through it; no application displays detections this weak.
CONFIDENCE_THRESHOLD = 0.01
OUTPUT_NAME = "detection_out"
OP_OUTPUTS = 4


def convert(tflite_path: str, xml_path: str) -> None:
    built = {}

    def detection_output(node):
        attr = node.get_attribute
        y_scale, x_scale = float(attr("y_scale")), float(attr("x_scale"))
        h_scale, w_scale = float(attr("h_scale")), float(attr("w_scale"))
        boxes, scores, anchors = (ops.convert(node.get_input(i), ov.Type.f32) for i in range(3))

        # (ty, tx, th, tw) → (tx, ty, tw, th), flattened to [1, A*4].
        boxes = ops.gather(boxes, np.array([1, 0, 3, 2], np.int64), np.int64(2))
        box_logits = ops.reshape(boxes, np.array([1, -1], np.int64), False)
        class_preds = ops.reshape(scores, np.array([1, -1], np.int64), False)

        # Anchors (yc, xc, h, w) → (x_min, y_min, x_max, y_max).
        def col(i):
            return ops.gather(anchors, np.array([i], np.int64), np.int64(1))

        yc, xc, h, w = col(0), col(1), col(2), col(3)
        half_w, half_h = ops.multiply(w, np.float32(0.5)), ops.multiply(h, np.float32(0.5))
        corners = ops.concat([ops.subtract(xc, half_w), ops.subtract(yc, half_h),
                              ops.add(xc, half_w), ops.add(yc, half_h)], 1)
        priors = ops.reshape(corners, np.array([1, 1, -1], np.int64), False)
        variances = np.array([1 / x_scale, 1 / y_scale, 1 / w_scale, 1 / h_scale], np.float32)
        num_anchors = node.get_input(2).get_partial_shape()[0].get_length()
        variance_row = ops.tile(ops.constant(variances.reshape(1, 1, 4)),
                                np.array([1, 1, num_anchors], np.int64))
        proposals = ops.concat([priors, variance_row], 1)  # [1, 2, A*4]

        det = ops.detection_output(box_logits, class_preds, proposals, {
            "background_label_id": 0,
            "top_k": TOP_K,
            "keep_top_k": [KEEP_TOP_K],
            "code_type": "caffe.PriorBoxParameter.CENTER_SIZE",
            "share_location": True,
            "nms_threshold": float(attr("nms_iou_threshold")),
            "confidence_threshold": CONFIDENCE_THRESHOLD,
            "variance_encoded_in_target": False,
            "normalized": True,
            "clip_before_nms": False,
            "clip_after_nms": False,
            "decrease_label_id": False,
        })
        det.output(0).get_tensor().set_names({OUTPUT_NAME})
        built["det"] = det
        # The op has four outputs (boxes, classes, scores, count); the model is rebuilt below
        # with DetectionOutput as its only result, so these placeholders are dropped.
        return [det.output(0)] * OP_OUTPUTS

    fe = FrontEndManager().load_by_framework("tflite")
    fe.add_extension(ConversionExtension(OP, detection_output))
    model = fe.convert(fe.load(tflite_path))
    if "det" not in built:
        raise SystemExit(f"{tflite_path}: no {OP} op found")
    result = ov.Model([built["det"].output(0)], model.get_parameters(), "ssd_detection_output")
    ov.save_model(result, xml_path, compress_to_fp16=False)


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    convert(sys.argv[1], sys.argv[2])
    print(f"wrote {sys.argv[2]}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
