#!/usr/bin/env python3
"""Converts a model any OpenVINO frontend reads (TF frozen graph, ONNX, TFLite) to IR, with the
weights unchanged (kept in their precision: no FP16 compression) and, given `--input H W`, a
dynamic NHWC image input made static `[1, H, W, 3]`.

Why: reading IR takes ~0.08 s where a TF frozen graph takes ~0.7 s through the TensorFlow
frontend, and OpenVINO's compiled-model cache cannot skip that read. A static input spares the
runtime reshape (~0.07 s of shape inference over the TF-OD-API graph on every start; an NPU
needs static shapes anyway). The engine reshapes again only when asked for another size.

A TF Object Detection API graph resizes its images in a preprocessor map: a `Loop` over the
batch, one image per trip. For SSDLite that loop costs ~8 % of inference on CPU (1.08 of 13.3
ms, `benchmark_app -pc`), and with the input made static at the model's own size its resize is
the identity (300x300 to 300x300). So, as Model Optimizer's
`ObjectDetectionAPIPreprocessor2Replacement` did for Open Model Zoo's SSD IRs, the loop is cut
out: the feature extractor takes the images as given, and the true image shapes become the
constant `[[H, W, 3]] * N`. The IR then takes its own input size only (another size is an error
at reshape; the frozen graph by path still takes any). The cut graph is kept only when its
outputs equal the loop's bit for bit on random images at batch 1 and at batch 2 (the engine
batches across streams).

Usage: .venv/bin/python models/convert/to_ir.py IN_MODEL OUT.xml [--input H W]
"""
import argparse
import sys

import numpy as np
import openvino as ov
import openvino.opset13 as ops

# Random images each check compares the cut graph with the original on.
CHECK_IMAGES = 2
# Batch sizes the cut graph is checked at (the engine reshapes to `[model] batch`).
CHECK_BATCHES = [1, 2]


def identity_preprocessor(model: ov.Model):
    """The TF-OD-API preprocessor map of `model` when its resize is the identity: (loop, images
    f32 `[N, H, W, 3]`), or None.

    Recognised by its shape: a `Loop` fed by a `Preprocessor/…TensorArrayScatter` of the
    images, whose body resizes with one `Interpolate` to a constant size equal to the images'
    own static `H, W` and computes nothing else of weight, with the resized images and the
    true shapes `[N, 3]` as its first two outputs."""
    for op in model.get_ordered_ops():
        if op.get_type_name() != "Loop" or op.get_output_size() < 2:
            continue
        body = op.get_function().get_ordered_ops()
        resizes = [b for b in body if b.get_type_name() == "Interpolate"]
        if len(resizes) != 1 or any(b.get_type_name() in ("Convolution", "Loop") for b in body):
            continue
        sizes = resizes[0].input(1).get_source_output().get_node()
        scatters = [i.get_source_output().get_node() for i in op.inputs()]
        scatters = [n for n in scatters if n.get_type_name() == "ScatterNDUpdate"
                    and "Preprocessor" in n.get_friendly_name()]
        if len(scatters) != 1 or sizes.get_type_name() != "Constant":
            continue
        images = scatters[0].input(2).get_source_output()
        shape, resized = images.get_partial_shape(), op.get_output_partial_shape(0)
        true_shape = op.get_output_partial_shape(1)
        if shape.rank.get_length() == 4 and shape[1].is_static and shape[2].is_static \
                and [int(v) for v in sizes.get_data()] == [shape[1].get_length(),
                                                           shape[2].get_length()] \
                and resized.compatible(shape) and true_shape.rank.get_length() == 2:
            return op, images
    return None


def cut_identity_preprocessor(model: ov.Model) -> bool:
    """Cuts the identity preprocessor loop out of `model` (see the module's doc). Returns
    whether it found one."""
    found = identity_preprocessor(model)
    if found is None:
        return False
    loop, images = found
    shape = images.get_partial_shape()
    batch = ops.gather(ops.shape_of(images, "i64"), np.array([0], np.int64), np.int64(0))
    rows = ops.concat([batch, ops.constant(np.array([3], np.int64))], 0)
    size = [shape[1].get_length(), shape[2].get_length(), 3]
    true_shape = ops.broadcast(ops.constant(np.array([size], np.int32)), rows)
    for target in list(loop.output(0).get_target_inputs()):
        target.replace_source_output(images)
    for target in list(loop.output(1).get_target_inputs()):
        target.replace_source_output(true_shape.output(0))
    model.validate_nodes_and_infer_types()
    return True


def same_outputs(a: ov.Model, b: ov.Model) -> bool:
    """Whether two models give bit-identical outputs (CPU, f32) on `CHECK_IMAGES` random u8
    images at each of `CHECK_BATCHES` (a's static input shape otherwise)."""
    core = ov.Core()
    config = {"INFERENCE_PRECISION_HINT": "f32"}
    rng = np.random.default_rng(0)
    for n in CHECK_BATCHES:
        shape = [n, *a.inputs[0].get_partial_shape().to_shape()[1:]]
        models = a.clone(), b.clone()
        for m in models:
            m.reshape(shape)
        ca, cb = (core.compile_model(m, "CPU", config) for m in models)
        for _ in range(CHECK_IMAGES):
            image = rng.integers(0, 256, shape, dtype=np.uint8)
            ra, rb = ca(image), cb(image)
            for out in ca.outputs:
                if not np.array_equal(ra[out], rb[cb.output(out.get_any_name())]):
                    return False
    return True


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
            edited = model.clone()
            if cut_identity_preprocessor(edited):
                if same_outputs(model, edited):
                    model = edited
                    print("cut the identity preprocessor loop", file=sys.stderr)
                else:
                    print("kept the preprocessor loop: the cut graph's outputs differ",
                          file=sys.stderr)
    ov.save_model(model, args.xml, compress_to_fp16=False)
    print(f"wrote {args.xml} (input {model.inputs[0].get_partial_shape()})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
