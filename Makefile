# The two commands in README.md: `make demo` and `make test`. Both set everything up first.
CARGO ?= cargo
BIN := target/release/ovstream

.PHONY: setup build demo test lint bench golden

setup:
	./scripts/setup.sh

build: setup
	$(CARGO) build --release --locked

# Annotated out/coco.mp4 + out/coco.jsonl (people, cars, bicycles) from samples/vtest.avi.
demo: build
	$(BIN) run pipelines/coco.toml

test: setup
	$(CARGO) test --release --locked

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --release --locked --all-targets -- -D warnings

bench: build
	$(BIN) bench pipelines/pedestrians.toml

# Regenerate the golden files with OpenVINO's Python API (commit the result).
golden: setup
	.venv/bin/python tests/golden/ssd_reference.py models/pedestrian-ssdlite/frozen_inference_graph.pb samples/vtest.avi tests/golden/pedestrians_vtest.json
	.venv/bin/python tests/golden/ssd_reference.py models/coco-ssd-mobilenet-v2/model.xml samples/vtest.avi tests/golden/coco_vtest.json
	.venv/bin/python tests/golden/make_classifier_ir.py
	cd tests/golden && ../../.venv/bin/python blazeface_reference.py ../../models/blazeface-full/face_detection_full_range.tflite ../../samples/carphone.mp4 carphone_faces.json --every 5
