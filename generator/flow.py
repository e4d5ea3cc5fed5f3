"""Rectified flow: the training objective and an Euler sampler with classifier-free guidance.

Convention: ``x_t = (1 - t) * x_0 + t * eps`` with data ``x_0`` at ``t = 0`` and noise at
``t = 1``; the model predicts the velocity ``v = eps - x_0`` (constant along each straight path),
so the ODE ``dx/dt = v`` is integrated from ``t = 1`` down to ``t = 0``. Training times are
drawn logit-normally (SD3), which concentrates on the middle of the path.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

__all__ = ["RectifiedFlow", "sample_timesteps", "euler_sample", "timestep_schedule",
           "ancestral_sigma"]

VelocityFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def sample_timesteps(n: int, generator: torch.Generator | None = None, mean: float = 0.0,
                     std: float = 1.0) -> torch.Tensor:
    """``(n,)`` training times in (0, 1), logit-normal."""
    return torch.sigmoid(mean + std * torch.randn(n, generator=generator))


class RectifiedFlow:
    """The training loss of rectified flow with velocity prediction."""

    @staticmethod
    def interpolate(x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """``x_t`` for data ``x0 (B, ...)``, ``noise`` like it and times ``t (B,)``."""
        tt = t.view(-1, *([1] * (x0.ndim - 1)))
        return (1 - tt) * x0 + tt * noise

    @staticmethod
    def loss(model: Callable[..., torch.Tensor], x0: torch.Tensor, t: torch.Tensor,
             noise: torch.Tensor, weight: torch.Tensor | None = None, **cond) -> torch.Tensor:
        """Mean squared velocity error; ``model(x_t, t, **cond)`` returns ``(B, ...)``.

        ``weight`` (broadcastable to ``x0``) gives a weighted mean instead: ``sum(w e) / sum(w)``
        over the broadcast shape, so the loss keeps the scale of the plain mean.
        """
        xt = RectifiedFlow.interpolate(x0, noise, t)
        v = model(xt, t, **cond)
        err = (v - (noise - x0)).pow(2)
        if weight is None:
            return err.mean()
        weight = weight.expand_as(err)
        return (err * weight).sum() / weight.sum()


def timestep_schedule(steps: int, shift: float = 1.0) -> torch.Tensor:
    """``(steps + 1,)`` times from 1 to 0; ``shift > 1`` spends more steps near the noise end."""
    t = torch.linspace(1.0, 0.0, steps + 1)
    return shift * t / (1 + (shift - 1) * t)


def ancestral_sigma(t: torch.Tensor, t_next: torch.Tensor, eta: float) -> torch.Tensor:
    """Fresh-noise scale of a stochastic step from ``t`` down to ``t_next`` (DDPM's posterior
    width when ``eta = 1``, DDIM's when ``eta = 0``) on the path ``x_t = (1-t) x_0 + t eps``:

        sigma^2 = eta^2 t_next^2 (1 - ((1-t) t_next / ((1-t_next) t))^2)

    It shrinks with the step, so the sampler tends to the reverse SDE as steps grow.
    """
    if eta == 0 or float(t_next) == 0.0:
        return torch.zeros(())
    ratio = (1 - t) * t_next / ((1 - t_next) * t)
    return eta * t_next * torch.sqrt((1 - ratio**2).clamp(min=0.0))


@torch.no_grad()
def euler_sample(velocity: VelocityFn, noise: torch.Tensor, steps: int, shift: float = 1.0,
                 eta: float = 0.0, generators: Sequence[torch.Generator] | None = None,
                 on_step: Callable[[int, int], None] | None = None,
                 ) -> torch.Tensor:
    """Integrate from ``t = 1`` (``noise``) to ``t = 0`` in ``steps``; returns ``x_0``.

    ``velocity(x (B, ...), t (B,))`` -> ``(B, ...)``; classifier-free guidance lives in it
    (see :func:`generator.pipeline.Pipeline.velocity`). ``eta = 0``: Euler steps of the ODE
    ``dx/dt = v`` (deterministic). ``eta > 0``: each step predicts ``x_0 = x - t v`` and
    ``eps = x + (1 - t) v``, then lands on ``t_next`` as
    ``(1 - t_next) x_0 + sqrt(t_next^2 - sigma^2) eps + sigma z`` with fresh noise ``z``
    (:func:`ancestral_sigma`; DDIM's update for this path), which commits each sample to one
    outcome instead of drifting along an average of several. ``generators``: one per sample
    for ``z``, so that a sample does not depend on the others in its batch. ``on_step(done,
    steps)`` is called after each step (a progress display; it cannot change the result).
    """
    if eta < 0:
        raise ValueError(f"eta must be >= 0, got {eta}")
    if eta > 0 and generators is not None and len(generators) != noise.shape[0]:
        raise ValueError("need one generator per sample")
    ts = timestep_schedule(steps, shift)
    x = noise
    for i in range(steps):
        if on_step is not None and i:
            on_step(i, steps)
        t, t_next = ts[i], ts[i + 1]
        v = velocity(x, t.expand(x.shape[0]))
        if eta == 0:
            x = x + (t_next - t) * v
            continue
        x0, eps = x - t * v, x + (1 - t) * v
        sigma = ancestral_sigma(t, t_next, eta)
        if float(sigma) == 0.0:
            x = (1 - t_next) * x0 + t_next * eps
            continue
        if generators is None:
            z = torch.randn_like(x)
        else:
            z = torch.cat([torch.randn((1, *x.shape[1:]), generator=g) for g in generators])
        x = (1 - t_next) * x0 + torch.sqrt(t_next**2 - sigma**2) * eps + sigma * z
    if on_step is not None:
        on_step(steps, steps)
    return x
