"""Metrics: the protocol (:mod:`evalkit.metrics.base`) and evalkit's weight-free metrics."""

from evalkit.metrics.base import ClipContext, ClipMetric, Metric, MetricError, SetMetric

__all__ = ["ClipContext", "ClipMetric", "Metric", "MetricError", "SetMetric"]
