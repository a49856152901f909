"""Normalized GPU labels derived from NVIDIA GPU feature discovery (GFD) labels.

GFD labels nodes with raw product strings (`NVIDIA-A100-SXM4-80GB`,
`NVIDIA-H100-80GB-HBM3`, `Tesla-T4`) and memory in MiB (`81920`). Workloads
want a stable class to select on, so an AutoNodeLabeler with `gpuClassLabels:
true` adds these labels (see docs/autonodelabeler.md for the table):

- `premlabs.io/gpu-class`: `<family>-<memory>gb`, e.g. `a100-80gb`, `h100-80gb`, `t4-16gb`
- `premlabs.io/gpu-memory-tier`: `small` (< 24 GB), `medium` (24-47), `large` (48-79),
  `xlarge` (80+)
- `premlabs.io/gpu-count`: the GFD count, unchanged
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping

PRODUCT = "nvidia.com/gpu.product"
MEMORY = "nvidia.com/gpu.memory"
COUNT = "nvidia.com/gpu.count"
CLASS_LABEL = "premlabs.io/gpu-class"
TIER_LABEL = "premlabs.io/gpu-memory-tier"
COUNT_LABEL = "premlabs.io/gpu-count"

FAMILIES = frozenset(
    {
        "GB200",
        "B200",
        "H200",
        "H100",
        "H800",
        "GH200",
        "A100",
        "A800",
        "A40",
        "A30",
        "A16",
        "A10G",
        "A10",
        "L40S",
        "L40",
        "L4",
        "T4",
        "V100",
        "P100",
        "P40",
        "P4",
        "RTX6000",
        "RTX5000",
        "RTX4090",
        "RTX4080",
        "RTX3090",
        "RTX3080",
    }
)
# Marketed memory sizes (GB); GFD reports a little less (a T4 says 15360 MiB).
SIZES = (8, 10, 12, 16, 20, 24, 32, 40, 48, 64, 80, 94, 96, 141, 180, 192)
TIERS = ((80, "xlarge"), (48, "large"), (24, "medium"), (0, "small"))


def family(product: str) -> str | None:
    """The GPU family of a GFD product string, lowercase (`a100`), if recognisable.

    Whole tokens only, so `A100` is never read as `A10`; `RTX-4090` is one token."""
    tokens = re.split(r"[^A-Z0-9]+", product.upper())
    joined = [a + b for a, b in itertools.pairwise(tokens) if a == "RTX"]
    return next((t.lower() for t in (*joined, *tokens) if t in FAMILIES), None)


def marketed_gb(mib: int) -> int:
    """The marketed size nearest to a GFD memory figure in MiB."""
    gib = mib / 1024
    return min(SIZES, key=lambda size: (abs(size - gib), size))


def tier(gb: int) -> str:
    return next(name for floor, name in TIERS if gb >= floor)


def gpu_labels(node_labels: Mapping[str, str]) -> dict[str, str]:
    """The normalized labels for a node's GFD labels; empty when it has none usable."""
    product, memory = node_labels.get(PRODUCT), node_labels.get(MEMORY)
    if not product or not memory or not memory.isdigit():
        return {}
    name = family(product)
    if name is None:
        return {}
    gb = marketed_gb(int(memory))
    labels = {CLASS_LABEL: f"{name}-{gb}gb", TIER_LABEL: tier(gb)}
    count = node_labels.get(COUNT)
    if count and count.isdigit():
        labels[COUNT_LABEL] = count
    return labels
