"""C2PA Content Credentials: read and validate any video's manifest, sign the generator's clips.

Platforms label AI video mostly from C2PA manifests (OpenAI, Google, Adobe, TikTok and YouTube
write or read them). This module wraps the reference implementation, ``c2pa-python`` (the Rust
``c2pa-rs`` SDK), so that evalkit reads what every other tool reads:

- :func:`read_content_credentials` validates a file's manifest store and summarises the active
  manifest: claim generator, actions, IPTC ``digitalSourceType``, signer and validation state
  (``trusted`` / ``valid`` / ``invalid``). ``declares_ai`` is true when a manifest that validated
  says the content was made by a trained model (``trainedAlgorithmicMedia`` or
  ``compositeWithTrainedAlgorithmicMedia``). Network access is off: no remote manifests, no OCSP
  (a server must never fetch a URL that an upload names).
- :func:`sign_video` embeds a signed manifest (``c2pa.created`` with ``digitalSourceType``
  trainedAlgorithmicMedia, the prompt's sha256, the generator and its version) into an mp4/mov
  file. :func:`evalkit.video.write_video` calls it for every clip that carries the generator's
  provenance label, so each clip the reference generator writes has Content Credentials.

Signing needs a certificate. By default evalkit signs with its **untrusted test chain**
(``evalkit/c2pa_test_chain``, made by ``scripts/make_c2pa_test_chain.py``; its private key is
public): validators report such signatures as valid but ``signingCredential.untrusted``. Publish
with your own: ``EVALKIT_C2PA_CERT`` (PEM chain, leaf first) and ``EVALKIT_C2PA_KEY`` (PEM
private key), optionally ``EVALKIT_C2PA_ALG`` (default ``es256``). Trust anchors for reading:
``EVALKIT_C2PA_TRUST_ANCHORS`` (PEM file); with them, a chain that ends in an anchor reads as
``trusted``.

C2PA does not survive re-encoding or a stripped container (the manifest is a box in the file),
which is why the generator's clips also carry the invisible watermark of
:mod:`evalkit.provenance`.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "AI_SOURCE_TYPES", "IPTC_PREFIX", "SignerConfig", "available", "content_credentials_for_clip",
    "default_signer_config", "generator_manifest", "mime_type_for", "read_content_credentials",
    "sign_video", "TEST_CHAIN_DIR",
]

logger = logging.getLogger(__name__)

IPTC_PREFIX = "http://cv.iptc.org/newscodes/digitalsourcetype/"
#: IPTC digital source types that say a trained model made (or went into) the content.
AI_SOURCE_TYPES = frozenset({"trainedAlgorithmicMedia", "compositeWithTrainedAlgorithmicMedia"})
TEST_CHAIN_DIR = Path(__file__).with_name("c2pa_test_chain")
#: Container formats (FFmpeg's names) that C2PA can carry, with the MIME type c2pa-rs reads.
_MIME_BY_FORMAT = {"mov": "video/mp4", "mp4": "video/mp4", "m4a": "video/mp4", "3gp": "video/mp4",
                   "avi": "video/avi", "gif": "image/gif"}
_MIME_BY_SUFFIX = {".mp4": "video/mp4", ".m4v": "video/mp4", ".mov": "video/quicktime",
                   ".avi": "video/avi", ".gif": "image/gif"}
# c2pa-rs's settings are process-wide per Context; one lock keeps Reader/Builder calls from
# several API threads from racing on the shared native context.
_LOCK = threading.Lock()


def available() -> bool:
    """Whether ``c2pa-python`` imports (it is a dependency; a broken install reads as absent)."""
    try:
        import c2pa  # noqa: F401
    except Exception:  # noqa: BLE001 - a missing native library raises OSError, not ImportError
        return False
    return True


def mime_type_for(path: str | os.PathLike[str], container_format: str | None = None) -> str | None:
    """The MIME type c2pa-rs should parse a file as: from the demuxer's format name when known
    (uploads have no trustworthy extension), else the suffix. None where C2PA has no binding."""
    if container_format:
        for name in container_format.split(","):
            if name in _MIME_BY_FORMAT:
                return _MIME_BY_FORMAT[name]
        return None
    return _MIME_BY_SUFFIX.get(Path(path).suffix.lower())


@functools.lru_cache(maxsize=8)
def _context(trust_anchors: str | None) -> Any:
    import c2pa

    settings: dict[str, Any] = {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}}
    if trust_anchors:
        settings["trust"] = {"trust_anchors": Path(trust_anchors).read_text()}
    return c2pa.Context.from_dict(settings)


def _trust_anchors(trust_anchors: str | os.PathLike[str] | None) -> str | None:
    value = trust_anchors or os.environ.get("EVALKIT_C2PA_TRUST_ANCHORS") or None
    return str(value) if value else None


def _short_source_type(value: Any) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    return value.rsplit("/", 1)[-1]


def _agent(value: Any) -> str | None:
    if isinstance(value, dict):
        return " ".join(str(value[k]) for k in ("name", "version") if value.get(k)) or None
    return str(value) if value else None


def _summarise(store: dict[str, Any], state: str | None) -> dict[str, Any]:
    active = store.get("manifests", {}).get(store.get("active_manifest") or "", {})
    actions: list[dict[str, Any]] = []
    for assertion in active.get("assertions", []):
        if str(assertion.get("label", "")).startswith("c2pa.actions"):
            for action in (assertion.get("data") or {}).get("actions", []):
                actions.append({"action": action.get("action"),
                                "digital_source_type": _short_source_type(action.get("digitalSourceType")),
                                "software_agent": _agent(action.get("softwareAgent"))})
    source_types = [a["digital_source_type"] for a in actions if a["digital_source_type"]]
    generator = active.get("claim_generator_info") or []
    claim_generator = (_agent({k: generator[0].get(k) for k in ("name", "version")})
                       if generator and isinstance(generator[0], dict) else active.get("claim_generator"))
    signature = active.get("signature_info") or {}
    failures = [s.get("code") for s in store.get("validation_status") or [] if s.get("code")]
    validation = (state or "").lower() or ("invalid" if failures else "valid")
    validated = validation in ("valid", "trusted")
    return {
        "present": True,
        "validation_state": validation,
        "trusted": validation == "trusted",
        "validation_status": failures,
        "claim_generator": claim_generator,
        "title": active.get("title"),
        "signer": {"issuer": signature.get("issuer"), "common_name": signature.get("common_name"),
                   "alg": signature.get("alg"), "time": signature.get("time")},
        "actions": actions,
        "digital_source_type": source_types[0] if source_types else None,
        "declares_ai": validated and any(t in AI_SOURCE_TYPES for t in source_types),
        "error": None,
    }


def _absent(error: str | None = None, supported: bool = True) -> dict[str, Any]:
    return {"present": False, "supported": supported, "validation_state": None, "trusted": False,
            "declares_ai": False, "error": error}


def read_content_credentials(path: str | os.PathLike[str], *, container_format: str | None = None,
                             trust_anchors: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Validate a file's C2PA manifest store and summarise its active manifest.

    Args:
        path: the file (read as a stream; only its bytes are used, nothing is fetched).
        container_format: FFmpeg's container format name (``VideoInfo.format``), which picks the
            parser; default: from the file's suffix.
        trust_anchors: PEM file of trusted roots (default ``EVALKIT_C2PA_TRUST_ANCHORS``).

    Returns:
        ``{"present": False, ...}`` when the file has no manifest (or its format cannot carry
        one: ``supported`` False), else ``present``, ``validation_state`` (``trusted`` |
        ``valid`` | ``invalid``), ``trusted``, ``validation_status`` (C2PA status codes: failures
        and ``signingCredential.untrusted``),
        ``claim_generator``, ``title``, ``signer`` (``issuer``, ``common_name``, ``alg``,
        ``time``), ``actions`` (``action``, ``digital_source_type``, ``software_agent``),
        ``digital_source_type`` (the first action's, IPTC short name), ``declares_ai`` and
        ``error``. A manifest store that cannot be parsed is ``present`` with
        ``validation_state`` ``invalid`` and the library's message in ``error``.
    """
    mime = mime_type_for(path, container_format)
    if mime is None:
        return _absent(supported=False)
    if not available():
        return {**_absent("c2pa-python is not installed: Content Credentials not read"),
                "present": None}
    import c2pa

    try:
        with _LOCK, open(path, "rb") as stream:
            reader = c2pa.Reader.try_create(mime, stream, context=_context(_trust_anchors(trust_anchors)))
            if reader is None:
                return _absent()
            with reader:
                store = json.loads(reader.json())
                state = reader.get_validation_state()
    except c2pa.C2paError as exc:
        text = str(exc)
        if "NotSupported" in type(exc).__name__ or "not supported" in text.lower():
            return _absent(supported=False)
        return {**_absent(f"unreadable C2PA data: {text[:300]}"), "present": True,
                "validation_state": "invalid"}
    return _summarise(store, state)


# ----------------------------------------------------------------------------------------------
# Signing
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignerConfig:
    """Who signs: a PEM certificate chain (leaf first), its PEM private key and the algorithm."""

    cert_chain: Path
    private_key: Path
    alg: str = "es256"

    @property
    def is_test_chain(self) -> bool:
        return self.cert_chain.resolve().parent == TEST_CHAIN_DIR.resolve()


def default_signer_config() -> SignerConfig:
    """``EVALKIT_C2PA_CERT`` + ``EVALKIT_C2PA_KEY`` when both are set, else the untrusted test
    chain. One set without the other is an error (a clip silently signed by the test chain
    instead of the user's key would be worse)."""
    cert, key = os.environ.get("EVALKIT_C2PA_CERT"), os.environ.get("EVALKIT_C2PA_KEY")
    if bool(cert) != bool(key):
        raise ValueError("set both EVALKIT_C2PA_CERT and EVALKIT_C2PA_KEY (or neither, to sign "
                         "with evalkit's untrusted test chain)")
    alg = os.environ.get("EVALKIT_C2PA_ALG", "es256").lower()
    if cert and key:
        return SignerConfig(Path(cert).expanduser(), Path(key).expanduser(), alg)
    return SignerConfig(TEST_CHAIN_DIR / "chain.pem", TEST_CHAIN_DIR / "key.pem", "es256")


def generator_manifest(*, generator: str, version: str, prompt: str | None = None,
                       title: str | None = None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The manifest definition for a generated clip: one ``c2pa.created`` action with
    ``digitalSourceType`` trainedAlgorithmicMedia; the prompt goes in only as its sha256."""
    from evalkit import __version__

    parameters: dict[str, Any] = dict(extra or {})
    if prompt is not None:
        parameters["prompt_sha256"] = hashlib.sha256(prompt.encode("utf-8")).hexdigest()
    action: dict[str, Any] = {
        "action": "c2pa.created",
        "digitalSourceType": IPTC_PREFIX + "trainedAlgorithmicMedia",
        "softwareAgent": {"name": str(generator), "version": str(version)},
    }
    if parameters:
        action["parameters"] = parameters
    return {
        "claim_generator_info": [{"name": "evalkit", "version": __version__}],
        "title": title or f"{generator} clip",
        "assertions": [{"label": "c2pa.actions", "data": {"actions": [action]}}],
    }


def content_credentials_for_clip(metadata: dict[str, Any]) -> dict[str, Any] | None:
    """The manifest for a clip whose metadata carries the generator's provenance label
    (:func:`evalkit.provenance.mark_clip`); None for any other clip."""
    label = metadata.get("provenance")
    if not isinstance(label, dict) or not label.get("ai_generated"):
        return None
    extra = {k: metadata[k] for k in ("seed", "prompt_id", "sample") if k in metadata}
    if label.get("payload"):
        extra["watermark"] = {"scheme": label.get("watermark"), "payload": label.get("payload")}
    prompt = metadata.get("prompt")
    return generator_manifest(generator=str(label.get("generator", "unknown")),
                              version=str(label.get("version", "")),
                              prompt=prompt if isinstance(prompt, str) else None, extra=extra)


def sign_video(src: str | os.PathLike[str], dst: str | os.PathLike[str], manifest: dict[str, Any],
               signer: SignerConfig | None = None, mime_type: str | None = None) -> Path:
    """Write ``src`` with an embedded, signed C2PA manifest to ``dst`` (different paths).

    ``signer``: default :func:`default_signer_config`; ``mime_type``: default from ``src``'s
    suffix.

    Raises:
        ValueError: the format cannot carry C2PA, or the key/certificate cannot be read.
        c2pa.C2paError: signing failed (e.g. a certificate that breaks the C2PA profile).
    """
    import c2pa

    src, dst = Path(src), Path(dst)
    mime = mime_type or mime_type_for(src)
    if mime is None:
        raise ValueError(f"cannot sign '{src.name}': C2PA has no binding for {src.suffix or 'this format'} "
                         f"(use .mp4 or .mov)")
    signer = signer or default_signer_config()
    try:
        cert, key = signer.cert_chain.read_bytes(), signer.private_key.read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read the C2PA signing certificate or key: {exc}") from exc
    info = c2pa.C2paSignerInfo(signer.alg.encode(), cert, key, None)
    manifest = {**manifest, "instance_id": manifest.get("instance_id") or f"xmp:iid:{uuid.uuid4()}"}
    with _LOCK, c2pa.Signer.from_info(info) as native_signer, \
            c2pa.Builder(json.dumps(manifest)) as builder, \
            open(src, "rb") as source, open(dst, "w+b") as target:
        builder.sign(native_signer, mime, source, target)
    return dst
