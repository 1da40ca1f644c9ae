#!/usr/bin/env python3
"""Helpers of test/runtime/run-npy.test.

  npy_check.py tokens OUT          write a [2, 4] int64 token array
  npy_check.py compare LOGITS JSON the logits at each row's last position
                                   equal dsc-run --json's prefill logits
"""
import json
import sys

import numpy as np

if sys.argv[1] == "tokens":
    np.save(sys.argv[2], np.array([[5, 17, 99, 3], [200, 1, 2, 3]], np.int64))
    np.save(sys.argv[2].replace(".npy", "-i32.npy"),
            np.array([5, 17, 99, 3], np.int32))
    sys.exit(0)
logits = np.load(sys.argv[2])
ref = np.array(json.load(open(sys.argv[3]))["prefill_logits"], np.float64)
assert logits.dtype == np.float32, logits.dtype
last = logits[:, -1, :].astype(np.float64)
assert np.isfinite(last).all(), "non-finite logits"
err = float(np.abs(last - ref).max() / np.abs(ref).max())
print(f"shape {list(logits.shape)} max relative difference {err:.1e}")
# --json prints 9 significant digits.
sys.exit(0 if err < 1e-6 else 1)
