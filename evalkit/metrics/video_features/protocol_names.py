"""Names of the FVD protocols, without torch.

Suite options name a protocol and are validated by ``evalkit validate`` and ``evalkit ls``,
which must not import torch; the protocols themselves (:mod:`.protocols`) prepare frames with
torch. ``tests/test_startup.py`` checks that the two lists agree.
"""

from __future__ import annotations

__all__ = ["DEFAULT_PROTOCOL", "PROTOCOL_NAMES"]

#: Every protocol of :data:`evalkit.metrics.video_features.protocols.PROTOCOLS`, in its order.
PROTOCOL_NAMES: tuple[str, ...] = ("styleganv", "tf", "cdfvd")
DEFAULT_PROTOCOL = "styleganv"
