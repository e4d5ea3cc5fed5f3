"""Physics probes: object tracking and motion fits against physical law."""
