"""Static int8 (QDQ) quantisation of each twin, calibrated on real camera-trap JPEGs, vs fp32.

Run from the repository root::

    python benchmarks/quantize_twins.py                    # all four twins
    python benchmarks/quantize_twins.py --models yolov10n  # one

Calibration and evaluation images are disjoint subsets of ``../shared/samples`` (>= 1.3 MP).
The int8 files go to a temporary folder and are deleted. On random-weight twins, F1 at the
typical threshold (0.2) rests on very few boxes, so agreement at 0.01 is reported too. The last
line is one JSON object: per model, the agreement dict a manifest could carry.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.throughput import SAMPLES, TWINS, sample_jpegs  # noqa: E402

TARGETS = {
    "yolov10n": ("twin-yolov10n-640-random.onnx", "yolov10"),
    "yolov10n-o2m": ("twin-yolov10n-640-one2many-random.onnx", "yolov8"),
    "yolov5s": ("twin-yolov5s-640-random.onnx", "yolov5"),
    "resnet50": ("twin-resnet50-224-36cls-features-random.onnx", "classifier"),
}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default=",".join(TARGETS))
    p.add_argument("--calibration", type=int, default=16)
    p.add_argument("--eval", type=int, default=16)
    p.add_argument("--timing-runs", type=int, default=16)
    args = p.parse_args(argv)

    from wildlife_desktop.runtime.quantize import quantize_static_model

    files = sample_jpegs(SAMPLES)
    cal = files[0::2][: args.calibration]
    ev = files[1::2][: args.eval]
    out: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory(prefix="wd-int8-") as tmp:
        for name in [m.strip() for m in args.models.split(",") if m.strip()]:
            fname, family = TARGETS[name]
            rep = quantize_static_model(TWINS / fname, Path(tmp) / f"{name}-int8.onnx", cal, family,
                                        eval_images=ev, timing_runs=args.timing_runs)
            out[name] = rep.agreement()
            print(f"{name:13s} fp32 {rep.fp32_ms:7.1f} ms  int8 {rep.int8_ms:7.1f} ms  x{rep.speedup:.2f}  "
                  f"finite {rep.finite}  F1@{rep.threshold} {rep.f1_vs_fp32:.3f} ({rep.boxes_fp32} boxes)  "
                  f"F1@{rep.low_threshold} {rep.f1_low:.3f} ({rep.boxes_fp32_low} boxes)  "
                  f"default: {rep.safe_default} ({rep.reason})", flush=True)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
