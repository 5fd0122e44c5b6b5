#!/usr/bin/env python3
"""Writes tests/data/classifier.xml/.bin: a tiny image model whose output ([1, 3] "logits",
the per-channel mean of a [1, 3, 64, 64] f32 NCHW image) matches no detection adapter. Used to
check that ovstream rejects such a model with a clear error naming it.

Usage: .venv/bin/python tests/golden/make_classifier_ir.py
"""
from pathlib import Path

import numpy as np
import openvino as ov
import openvino.opset13 as ops

image = ops.parameter([1, 3, 64, 64], np.float32, name="image")
logits = ops.reduce_mean(image, np.array([2, 3], dtype=np.int64), keep_dims=False)
logits.output(0).get_tensor().set_names({"logits"})
model = ov.Model([logits], [image], "classifier")
out = Path(__file__).resolve().parent.parent / "data" / "classifier.xml"
ov.save_model(model, out)
print(f"wrote {out}")
