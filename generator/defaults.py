"""Sampler defaults of the shipped checkpoint, shared by the CLI, the runner plugin and the
evaluation (torch-free, so importing it keeps ``evalkit --help`` light)."""

#: Euler steps of the flow sampler.
DEFAULT_STEPS = 20
#: Classifier-free guidance scale (chosen on held-out prompts; see generator/MODEL_CARD.md).
DEFAULT_GUIDANCE = 3.0
