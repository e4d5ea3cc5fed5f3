"""Runner metric ``c2pa``: what each clip's C2PA Content Credentials say, validated.

Per clip: ``declares_ai`` (1 when a manifest that validates says ``trainedAlgorithmicMedia`` or
a composite with it; the primary value), ``present`` (0/1), ``validation_state`` (``trusted`` /
``valid`` / ``invalid`` / ``none``), ``trusted`` (0/1), ``digital_source_type``,
``claim_generator``, ``signer``. C2PA lives in the file, not in the pixels, so the metric reads the
clip's source file (``clip.metadata["source_file"]``, set for every clip the runner decodes); a
clip that exists only in memory is an error for that clip, never a silent 0.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from evalkit.clip import Clip
from evalkit.metrics.base import ClipContext, ClipMetric

__all__ = ["ContentCredentialsMetric"]


class ContentCredentialsOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    #: PEM file of trusted C2PA roots (default: $EVALKIT_C2PA_TRUST_ANCHORS)
    trust_anchors: str | None = None


class ContentCredentialsMetric(ClipMetric):
    name = "c2pa"
    description = "C2PA Content Credentials of each clip's file (c2pa-python): AI declaration, validation, signer"
    higher_is_better = None
    units = "share of clips whose valid manifest declares AI generation"
    primary = "declares_ai"
    version = "1"
    Options: ClassVar[type[BaseModel]] = ContentCredentialsOptions

    def score(self, clip: Clip, context: ClipContext) -> dict[str, Any]:
        from evalkit.content_credentials import read_content_credentials

        source = clip.metadata.get("source_file")
        if not source:
            raise ValueError("this clip has no source file: C2PA Content Credentials live in the "
                             "file, so score clips read from disk")
        info = read_content_credentials(source, trust_anchors=self.options.trust_anchors)
        if info.get("present") is None:
            raise RuntimeError(info.get("error") or "c2pa-python is not available")
        signer = info.get("signer") or {}
        return {
            "declares_ai": int(bool(info["declares_ai"])),
            "present": int(bool(info["present"])),
            "validation_state": info.get("validation_state") or "none",
            "trusted": int(bool(info.get("trusted"))),
            "digital_source_type": info.get("digital_source_type") or "",
            "claim_generator": info.get("claim_generator") or "",
            "signer": signer.get("common_name") or "",
        }
