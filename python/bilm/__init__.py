"""bilm: physics-aware human activity recognition from wearable inertial sensors."""

__version__ = "0.1.0"
