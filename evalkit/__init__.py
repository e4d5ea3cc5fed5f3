"""evalkit: evaluate text-to-video generators and detect AI-generated video, offline.

Importing ``evalkit`` is cheap: heavy modules (torch, PyAV, pandas) load only where used.
"""

from __future__ import annotations

__version__ = "0.1.0"

from evalkit.clip import Clip  # noqa: E402  (the one clip type, re-exported for convenience)

__all__ = ["Clip", "__version__"]
