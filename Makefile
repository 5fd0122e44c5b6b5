# The two commands in README.md: `make demo` and `make test`. Both set everything up first.
CARGO ?= cargo
BIN := target/release/ovstream

.PHONY: setup build demo faces test lint docs bench bench-live bench-faces bench-density bench-density-sub golden image image-test

setup:
	./scripts/setup.sh

build: setup
	$(CARGO) build --release --locked

# Annotated out/coco.mp4 + out/coco.jsonl (people, cars, bicycles) from samples/vtest.avi.
demo: build
	$(BIN) run pipelines/coco.toml

# Face recognition on samples/carphone.mp4: enroll the caller from frame 0, then name him in
# out/faces.mp4 + out/faces.jsonl.
faces: build
	$(BIN) gallery add caller --video samples/carphone.mp4 --frame 0
	$(BIN) run pipelines/faces.toml

# Container image localhost/ovstream:latest (podman; base from Debian packages by mmdebstrap).
image: build
	./scripts/image.sh

# Builds the image (if needed) and runs it: a short pipeline matching the host's, /healthz.
image-test: setup
	$(CARGO) nextest run --release --locked --test it -E 'test(/^image::/)' --no-capture

# The unit and integration tests from one pool (cargo-nextest; groups in .config/nextest.toml).
test: setup
	$(CARGO) nextest run --release --locked

# The references generated from the code (docs/reference/): the CLI (clap), the service's
# OpenAPI document, the GStreamer elements (gst-inspect). Tests fail when a committed one differs.
docs: build
	$(BIN) reference cli > docs/reference/cli.md
	$(BIN) reference openapi > docs/reference/openapi.json
	$(BIN) reference api > docs/reference/api.md
	$(BIN) config schema > docs/reference/pipeline.schema.json
	d=$$(mktemp -d) && cp target/release/libgstovstream.so $$d/ && \
	  GST_PLUGIN_PATH=$$d python3 scripts/elements_reference.py > docs/reference/elements.md; \
	  rm -rf $$d

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --release --locked --all-targets -- -D warnings
	$(CARGO) clippy --release --locked --lib --no-default-features -- -D warnings

bench: build
	$(BIN) bench pipelines/pedestrians.toml

bench-live: build
	$(BIN) bench pipelines/pedestrians.toml --live

# Stream density per detection mode on the camera stand-in clip (~10 min).
bench-density: build
	$(BIN) bench pipelines/camera.toml --density --json out/density.json

# The same on the camera's detection substream (640x360 at 5 fps, made from the clip by
# scripts/camera_clip.py), as Frigate's cameras detect (~10 min).
bench-density-sub: build
	.venv/bin/python scripts/camera_clip.py --substream 640x360@5
	$(BIN) bench pipelines/camera.toml --density --input samples/camera_walkway_sub.mp4 \
	  --density-seconds 10 --json out/density-sub.json

bench-faces: build
	$(BIN) gallery add caller --video samples/carphone.mp4 --frame 0
	$(BIN) bench pipelines/faces.toml --faces --limit 1500

# Regenerate the golden files with OpenVINO's Python API (commit the result).
golden: setup
	.venv/bin/python tests/golden/ssd_reference.py models/pedestrian-ssdlite/frozen_inference_graph.pb samples/vtest.avi tests/golden/pedestrians_vtest.json
	.venv/bin/python tests/golden/ssd_reference.py models/pedestrian-ssdlite/frozen_inference_graph.pb samples/vtest.avi tests/golden/pedestrians_vtest_planes.json --resize planes --frames 150
	.venv/bin/python tests/golden/make_classifier_ir.py
	cd tests/golden && ../../.venv/bin/python yolo_reference.py ../../models/fall-yolov8/best_fp16.onnx ../../samples/vtest.avi fall_vtest.json --labels Normal Fall --frames 120
	cd tests/golden && ../../.venv/bin/python blazeface_reference.py ../../models/blazeface-full/face_detection_full_range.tflite ../../samples/carphone.mp4 carphone_faces.json --every 5
