"""bilm: physics-aware human activity recognition from wearable inertial sensors.

    import bilm
    result = bilm.fit(bilm.get_preset("default"), "UCI HAR Dataset", "runs/best")
    classifier = bilm.load_classifier("runs/best")
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# Imported on first use, so that `import bilm.data` does not load PyTorch.
_EXPORTS = {
    "fit": "bilm.training", "FitResult": "bilm.training",
    "BILMConfig": "bilm.config", "get_preset": "bilm.config",
    "load_classifier": "bilm.inference", "load_dataset": "bilm.data",
}
__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'bilm' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
