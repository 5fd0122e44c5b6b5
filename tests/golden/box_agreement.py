#!/usr/bin/env python3
"""Recall and precision of ovstream's boxes against a reference made by ssd_reference.py.

A reference box (score ≥ --threshold) is *found* when ovstream has a box of the same label on
the same frame with IoU ≥ --iou (greedy, best IoU first, each box used once); an ovstream box
(confidence ≥ --threshold) is *confirmed* when it is matched to such a reference box.
recall = found / reference boxes, precision = confirmed / ovstream boxes. A box just above the
threshold on one side and just below it on the other counts against both: that is the
near-threshold flip this measures.

Prints one JSON line: {"recall", "precision", "reference", "ovstream", "matched"}.

Usage: .venv/bin/python tests/golden/box_agreement.py REF.json OVSTREAM.jsonl
           [--threshold 0.5] [--iou 0.5] [--labels person,car]
"""

import argparse
import json
import sys


def iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def ovstream_boxes(path: str):
    """frame → [(label_id, box normalized)] from ovstream's JSON lines."""
    frames = {}
    with open(path) as fh:
        for line in fh:
            record = json.loads(line)
            boxes = []
            for o in record.get("objects", []):
                d = o["detection"]
                b = d["bounding_box"]  # normalized
                box = [b["x_min"], b["y_min"], b["x_max"], b["y_max"]]
                boxes.append((d["label_id"], d["confidence"], box))
            frames[record["frame"]] = boxes
    return frames


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("reference")
    ap.add_argument("ovstream")
    ap.add_argument("--threshold", type=float, default=0.5)
    ap.add_argument("--iou", type=float, default=0.5)
    ap.add_argument("--labels", default="", help="label ids to count, comma-separated")
    args = ap.parse_args()
    keep = {int(x) for x in args.labels.split(",") if x}
    with open(args.reference) as fh:
        reference = json.load(fh)
    ours = ovstream_boxes(args.ovstream)
    n_ref = n_ours = matched = 0
    for f in reference["frames"]:
        refs = [(o["label_id"], o["box"]) for o in f["objects"]
                if o["score"] >= args.threshold and (not keep or o["label_id"] in keep)]
        mine = [(label, box) for label, score, box in ours.get(f["frame"], [])
                if score >= args.threshold and (not keep or label in keep)]
        n_ref += len(refs)
        n_ours += len(mine)
        pairs = sorted(((iou(r[1], m[1]), i, j) for i, r in enumerate(refs)
                        for j, m in enumerate(mine) if r[0] == m[0]), reverse=True)
        used_r, used_m = set(), set()
        for v, i, j in pairs:
            if v < args.iou:
                break
            if i in used_r or j in used_m:
                continue
            used_r.add(i)
            used_m.add(j)
            matched += 1
    result = {"recall": round(matched / max(n_ref, 1), 4),
              "precision": round(matched / max(n_ours, 1), 4),
              "reference": n_ref, "ovstream": n_ours, "matched": matched}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
