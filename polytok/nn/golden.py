"""The golden ratio, defined once: golden head decay (`polytok.reso.attention`), the coherence gate's
default threshold (`polytok.reso.gate`) and the golden learning-rate schedule (`polytok.nn.optim`)."""

from __future__ import annotations

import math

PHI = (1 + math.sqrt(5)) / 2  # 1.618...
INV_PHI = 1 / PHI  # 0.618... = PHI - 1
