"""Sampler defaults of the shipped checkpoint, shared by the CLI, the runner plugin and the
evaluation (torch-free, so importing it keeps ``evalkit --help`` light)."""

from pathlib import Path

#: The shipped checkpoint (trained by ``generator train --config generator/configs/v3.yaml``, which
#: starts from ``reference_v2.pt``). Here rather than in the pipeline so that checking a suite
#: (``evalkit validate``) finds it without importing torch.
DEFAULT_CHECKPOINT = Path(__file__).resolve().parent / "weights" / "reference_v3.pt"

#: Steps of the flow sampler.
DEFAULT_STEPS = 20
#: Classifier-free guidance scale (chosen on held-out validation prompts, with the interval
#: below; see generator/MODEL_CARD.md).
DEFAULT_GUIDANCE = 3.0
#: Stochasticity of the sampler steps: 0 = deterministic Euler, 1 = DDPM-like ancestral steps
#: (chosen on held-out validation prompts; see generator/MODEL_CARD.md).
DEFAULT_ETA = 1.0
#: Times ``t`` (1 = noise, 0 = data) of the steps that take classifier-free guidance; the
#: others use the conditional velocity alone, at half the cost. (0.6, 1): the first 9 of 20
#: steps, 29 DiT passes per clip instead of 40 (chosen on validation prompts, see
#: generator/MODEL_CARD.md).
DEFAULT_GUIDANCE_INTERVAL: tuple[float, float] = (0.6, 1.0)


def check_guidance_interval(interval: tuple[float, float] | list[float]) -> tuple[float, float]:
    """``(lo, hi)`` with ``0 <= lo <= hi <= 1``, else ``ValueError`` saying what is wrong."""
    try:
        lo, hi = (float(v) for v in interval)
    except (TypeError, ValueError):
        raise ValueError(f"guidance interval must be two numbers lo,hi; got {interval!r}") from None
    if not 0.0 <= lo <= hi <= 1.0:
        raise ValueError(f"guidance interval must satisfy 0 <= lo <= hi <= 1; got {lo:g},{hi:g}")
    return lo, hi


def parse_guidance_interval(text: str, sep: str = ",") -> tuple[float, float]:
    """``"LO,HI"`` (as command lines take it) -> checked ``(lo, hi)``; ``ValueError`` if not."""
    return check_guidance_interval(text.split(sep))


#: :data:`DEFAULT_GUIDANCE_INTERVAL` as command lines write it.
DEFAULT_GUIDANCE_INTERVAL_TEXT = ",".join(f"{v:g}" for v in DEFAULT_GUIDANCE_INTERVAL)
