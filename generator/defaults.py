"""Sampler defaults of the shipped checkpoint, shared by the CLI, the runner plugin and the
evaluation (torch-free, so importing it keeps ``evalkit --help`` light)."""

#: Steps of the flow sampler.
DEFAULT_STEPS = 20
#: Classifier-free guidance scale (chosen on held-out prompts; see generator/MODEL_CARD.md).
DEFAULT_GUIDANCE = 2.0
#: Stochasticity of the sampler steps: 0 = deterministic Euler, 1 = DDPM-like ancestral steps
#: (chosen on held-out validation prompts; see generator/MODEL_CARD.md).
DEFAULT_ETA = 1.0
