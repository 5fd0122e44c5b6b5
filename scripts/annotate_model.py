#!/usr/bin/env python3
"""Stores OpenVINO Model API settings into a model's rt_info/model_info and saves it as IR.

Run by `ovstream models annotate` with the project's .venv (nothing Python runs at inference
time): the settings arrive as KEY=VALUE arguments (model_type, labels, confidence_threshold,
iou_threshold, resize_type, pad_value, reverse_input_channels, scale_values, mean_values).

Usage: annotate_model.py MODEL OUT.xml KEY=VALUE...
"""
import sys

import openvino as ov


def main() -> int:
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    model_path, out = sys.argv[1], sys.argv[2]
    model = ov.Core().read_model(model_path)
    for item in sys.argv[3:]:
        key, value = item.split("=", 1)
        model.set_rt_info(value, ["model_info", key])
    # Weights stay as they are (an FP16 ONNX stays FP16; FP32 is not compressed).
    ov.save_model(model, out, compress_to_fp16=False)
    print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
