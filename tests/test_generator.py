"""The reference generator: VAE, DiT, flow, text states, data splits, plugin, CLI, training."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from evalkit.generators.base import GenerationRequest
from generator.data import (
    combo_of,
    heldout_combos,
    heldout_scenes,
    to_tensor,
    to_uint8,
    training_scene,
)
from generator.dit import DiT, DiT_models, get_3d_sincos_pos_embed, retarget_temporal_patch
from generator.flow import RectifiedFlow, ancestral_sigma, euler_sample, timestep_schedule
from generator.pipeline import (
    DEFAULT_CHECKPOINT,
    Pipeline,
    load_pipeline,
    save_checkpoint,
    untrained_pipeline,
)
from generator.plugin import ReferenceGenerator
from generator.vae import VAE_models, CausalConv3d

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised (but non-trivial) checkpoint in the shipped format."""
    pipe = untrained_pipeline(seed=0)
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    return save_checkpoint(path, pipe.dit, pipe.vae, "VAE-XS", "DiT-XT/2x4",
                           {"mean": [0.0] * 4, "std": [1.0] * 4}, {"test": True})


# -- VAE -------------------------------------------------------------------------------------


def test_vae_shapes() -> None:
    torch.manual_seed(0)
    vae = VAE_models["VAE-XS"]().eval()
    x = torch.rand(1, 3, 16, 64, 64) * 2 - 1
    with torch.no_grad():
        post = vae.encode(x)
        assert post.mean.shape == post.logvar.shape == (1, 4, 8, 16, 16)
        assert vae.decode(post.mean).shape == (1, 3, 16, 64, 64)
        assert post.kl().shape == (1,)


def test_causal_conv_sees_only_the_past() -> None:
    torch.manual_seed(0)
    conv = CausalConv3d(3, 5, (3, 3, 3), stride=(2, 1, 1))
    x = torch.randn(1, 3, 16, 8, 8)
    y = x.clone()
    y[:, :, 8:] = torch.randn_like(y[:, :, 8:])  # change the future only
    a, b = conv(x), conv(y)
    assert a.shape == (1, 5, 8, 8, 8)
    assert torch.equal(a[:, :, :4], b[:, :, :4])  # output k reads input frames 2k-2..2k
    assert not torch.equal(a[:, :, 4:], b[:, :, 4:])


def test_tensor_conversions_round_trip() -> None:
    frames = np.random.default_rng(0).integers(0, 256, (2, 4, 8, 8, 3), dtype=np.uint8)
    x = to_tensor(frames)
    assert x.shape == (2, 3, 4, 8, 8) and x.min() >= -1 and x.max() <= 1
    assert np.array_equal(to_uint8(x), frames)


# -- DiT and flow ----------------------------------------------------------------------------


@pytest.mark.parametrize("name,tokens", [("DiT-XT/2x4", 64), ("DiT-T/1x4", 128), ("DiT-T/2x2", 256)])
def test_dit_patches_and_adaln_zero(name: str, tokens: int) -> None:
    model = DiT_models[name]()
    assert model.num_tokens == tokens
    x = torch.randn(2, 4, 8, 16, 16)
    assert torch.equal(model.unpatchify(model.patchify(x)), x)
    out = model(x, torch.rand(2), torch.randn(2, 5, 384), torch.ones(2, 5, dtype=torch.bool),
                torch.randn(2, 384))
    assert out.shape == x.shape
    assert torch.count_nonzero(out) == 0  # adaLN-Zero / zero final layer: starts at exactly 0


def test_retarget_temporal_patch_embeds_and_predicts_like_the_source() -> None:
    torch.manual_seed(0)
    src = DiT_models["DiT-XT/2x4"](latent_shape=(4, 8, 16, 16))
    with torch.no_grad():
        for p in src.parameters():
            p.normal_(0, 0.1)  # adaLN-zero would leave the output layer all zeros
    dst = DiT_models["DiT-XT/1x4"](latent_shape=(4, 8, 16, 16))
    dst.load_state_dict(retarget_temporal_patch(src.state_dict(), src.patch, dst.patch, 4))
    # a latent whose frames come in equal pairs: the one-frame token of frame 2i embeds like
    # the two-frame token i
    x = torch.randn(2, 4, 4, 16, 16).repeat_interleave(2, dim=2)
    e_src = src.x_embedder(src.patchify(x)).view(2, 4, 16, -1)
    e_dst = dst.x_embedder(dst.patchify(x)).view(2, 8, 16, -1)
    torch.testing.assert_close(e_dst[:, 0::2], e_src, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(e_dst[:, 1::2], e_src, rtol=1e-5, atol=1e-5)
    # the output layer predicts each frame as the mean of the source's two frames (features
    # are ordered (pt, ph, pw, C), so the source's token output is [frame 0, frame 1])
    h, c = torch.randn(2, 64, 128), torch.randn(2, 128)
    want = src.final_layer(h, c).view(2, 64, 2, 64).mean(2)
    torch.testing.assert_close(dst.final_layer(h, c), want, rtol=1e-5, atol=1e-5)
    # every other tensor is carried over unchanged
    same = [k for k in src.state_dict() if "x_embedder" not in k and "final_layer.linear" not in k]
    for k in same:
        assert torch.equal(dst.state_dict()[k], src.state_dict()[k]), k


def test_retarget_refuses_what_it_cannot_map() -> None:
    src = DiT_models["DiT-XT/1x4"](latent_shape=(4, 8, 16, 16))
    with pytest.raises(ValueError, match="only the temporal patch may shrink"):
        retarget_temporal_patch(src.state_dict(), (1, 4, 4), (2, 4, 4), 4)
    with pytest.raises(ValueError, match="only the temporal patch may shrink"):
        retarget_temporal_patch(src.state_dict(), (2, 4, 4), (1, 2, 2), 4)


def test_warm_start_checks_the_source(tmp_path: Path) -> None:
    from generator.train import _warm_start

    wide = DiT_models["DiT-T/2x4"](latent_shape=(4, 8, 16, 16))
    torch.save({"config": wide.config, "ema": wide.state_dict()}, tmp_path / "dit.pt")
    narrow = DiT_models["DiT-XT/1x4"](latent_shape=(4, 8, 16, 16))
    with pytest.raises(ValueError, match="hidden_size 192 differs from 128"):
        _warm_start(tmp_path / "dit.pt", narrow)
    with pytest.raises(FileNotFoundError, match="train that run first"):
        _warm_start(tmp_path / "missing.pt", narrow)
    fine = DiT_models["DiT-T/1x4"](latent_shape=(4, 8, 16, 16))
    fine.load_state_dict(_warm_start(tmp_path / "dit.pt", fine))
    assert torch.equal(fine.blocks[0].attn.q.weight, wide.blocks[0].attn.q.weight)


def test_dit_text_dropout_uses_null_text() -> None:
    model = untrained_pipeline(seed=1).dit
    x, t = torch.randn(2, 4, 8, 16, 16), torch.rand(2)
    mask = torch.ones(2, 5, dtype=torch.bool)
    a = model(x, t, torch.randn(2, 5, 384), mask, torch.randn(2, 384), torch.tensor([True, True]))
    b = model(x, t, torch.randn(2, 5, 384), mask, torch.randn(2, 384), torch.tensor([True, True]))
    assert torch.allclose(a, b)  # dropped text: the prompt no longer matters


def test_dit_text_condition_computed_once_gives_the_same_velocity() -> None:
    model = untrained_pipeline(seed=2, dit_name="DiT-T/1x4").dit.eval()
    x, t = torch.randn(3, 4, 8, 16, 16), torch.rand(3)
    tokens, pooled = torch.randn(3, 6, 384), torch.randn(3, 384)
    mask = torch.tensor([[True] * 6, [True] * 3 + [False] * 3, [True] + [False] * 5])
    drop = torch.tensor([False, True, False])
    with torch.no_grad():
        text = model.encode_text(tokens, mask, pooled, drop)
        assert len(text.keys_values) == len(model.blocks)
        direct = model(x, t, tokens, mask, pooled, drop)
        assert torch.equal(model(x, t, text=text), direct)
        assert not torch.equal(model(x, t.flip(0), text=text), direct)  # t still matters
    with pytest.raises(ValueError, match="tokens, mask and pooled"):
        model(x, t)


def test_pos_embed_is_unique_per_token() -> None:
    emb = get_3d_sincos_pos_embed(128, (4, 4, 4))
    assert emb.shape == (64, 128)
    assert len({tuple(np.round(r, 6)) for r in emb}) == 64


def test_rectified_flow_exact_on_straight_paths() -> None:
    x0, noise = torch.randn(3, 4), torch.randn(3, 4)
    t = torch.tensor([0.0, 0.5, 1.0])
    xt = RectifiedFlow.interpolate(x0, noise, t)
    assert torch.allclose(xt[0], x0[0]) and torch.allclose(xt[2], noise[2])
    # the true velocity integrates back to the data in any number of Euler steps
    out = euler_sample(lambda x, tt: noise - x0, noise, steps=3)
    assert torch.allclose(out, x0, atol=1e-5)
    loss = RectifiedFlow.loss(lambda x, tt: noise - x0, x0, torch.rand(3), noise)
    assert loss.item() == pytest.approx(0.0, abs=1e-10)
    ts = timestep_schedule(4, shift=3.0)
    assert ts[0] == 1.0 and ts[-1] == 0.0 and torch.all(ts[1:] < ts[:-1])


def test_ancestral_sigma_vanishes_at_the_end_and_with_the_step() -> None:
    t = torch.tensor(0.5)
    assert float(ancestral_sigma(t, torch.tensor(0.0), 1.0)) == 0.0  # last step: no new noise
    assert float(ancestral_sigma(t, torch.tensor(0.4), 0.0)) == 0.0  # eta 0: deterministic
    big, small = ancestral_sigma(t, torch.tensor(0.3), 1.0), ancestral_sigma(t, torch.tensor(0.49), 1.0)
    assert 0 < float(small) < float(big) < 0.3  # never more than the noise level it lands on
    half = ancestral_sigma(t, torch.tensor(0.3), 0.5)
    assert float(half) == pytest.approx(0.5 * float(big))


def _gaussian_velocity(mu: float, s: float):
    """The exact rectified-flow velocity of 1-D data N(mu, s^2)."""
    def v(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        tt = t.view(-1, 1)
        var = (1 - tt) ** 2 * s**2 + tt**2
        centred = x - (1 - tt) * mu
        x0 = mu + (1 - tt) * s**2 / var * centred
        eps = tt / var * centred
        return eps - x0
    return v


@pytest.mark.parametrize("eta", [0.0, 0.5, 1.0])
def test_samplers_reach_the_data_distribution(eta: float) -> None:
    # with the exact velocity of Gaussian data, every sampler (deterministic or ancestral) must
    # land on that Gaussian: a wrong noise scale would show as a wrong spread
    torch.manual_seed(0)
    mu, s = 1.5, 0.4
    out = euler_sample(_gaussian_velocity(mu, s), torch.randn(40_000, 1), steps=400, eta=eta)
    assert float(out.mean()) == pytest.approx(mu, abs=0.01)
    assert float(out.std()) == pytest.approx(s, rel=0.02)  # at 20 steps: 0.92x (eta 0), 0.86x (1)


def test_ancestral_sampler_is_exact_on_a_point_mass_and_checks_input() -> None:
    c = torch.tensor([[0.3, -1.0]])
    velocity = lambda x, t: (x - c) / t.view(-1, 1)  # noqa: E731  (x0 = c exactly)
    out = euler_sample(velocity, torch.randn(5, 2), steps=4, eta=1.0)
    torch.testing.assert_close(out, c.expand(5, 2))
    with pytest.raises(ValueError, match="eta must be >= 0"):
        euler_sample(velocity, torch.randn(5, 2), steps=4, eta=-0.1)
    with pytest.raises(ValueError, match="one generator per sample"):
        euler_sample(velocity, torch.randn(5, 2), steps=4, eta=1.0,
                     generators=[torch.Generator()])


def test_weighted_flow_loss_keeps_the_scale_and_moves_the_weight() -> None:
    x0, noise = torch.zeros(2, 1, 2, 2), torch.zeros(2, 1, 2, 2)
    err = torch.tensor([1.0, 3.0]).view(2, 1, 1, 1).expand(2, 1, 2, 2)

    def model(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return err.sqrt()

    t = torch.rand(2)
    plain = RectifiedFlow.loss(model, x0, t, noise)
    assert plain.item() == pytest.approx(2.0)
    ones = RectifiedFlow.loss(model, x0, t, noise, weight=torch.ones(2, 1, 1, 1))
    assert ones.item() == pytest.approx(2.0)
    up = RectifiedFlow.loss(model, x0, t, noise, weight=torch.tensor([1.0, 3.0]).view(2, 1, 1, 1))
    assert up.item() == pytest.approx((1 * 1 + 3 * 3) / 4)  # weighted mean toward the heavy item


def test_latent_object_mask_covers_the_object() -> None:
    from evalkit.world import ground_truth, render
    from generator.train import latent_object_mask

    spec = training_scene(np.random.default_rng(5))
    frames = render(spec, seed=0).clip.frames
    mask = latent_object_mask(frames[None], (8, 16, 16))
    assert mask.shape == (1, 1, 8, 16, 16) and mask.dtype == torch.bool
    assert 0 < mask.float().mean() < 0.3  # a small object: a small part of the latent
    truth = ground_truth(spec)
    for t in range(0, 16, 2):
        if truth.in_view_fraction[t, 0] < 1:
            continue
        x, y = truth.position_px[t, 0]
        assert mask[0, 0, t // 2, int(y) // 4, int(x) // 4], f"frame {t}: object cell not marked"


def test_dit_learning_rate_schedules() -> None:
    from generator.config import DiTConfig
    from generator.train import _dit_lr

    const = DiTConfig(lr=1e-3, warmup=10, steps=100)
    assert _dit_lr(const, 0) == pytest.approx(1e-4) and _dit_lr(const, 50) == 1e-3
    cos = DiTConfig(lr=1e-3, warmup=10, steps=110, lr_schedule="cosine", min_lr=1e-5)
    assert _dit_lr(cos, 9) == pytest.approx(1e-3)
    assert _dit_lr(cos, 10) == pytest.approx(1e-3)
    assert _dit_lr(cos, 60) == pytest.approx((1e-3 + 1e-5) / 2)
    assert _dit_lr(cos, 110) == pytest.approx(1e-5) and _dit_lr(cos, 500) == pytest.approx(1e-5)
    with pytest.raises(ValueError):
        DiTConfig(lr_schedule="linear")

# -- text ------------------------------------------------------------------------------------


def test_text_states_reuse_evaluator_minilm() -> None:
    from evalkit.metrics.evaluator_model import shared_text_encoder
    from generator.text import get_text_encoder

    prompts = ["a red ball falls from the top", "a blue box rests at the center"]
    tokens, mask, pooled = get_text_encoder()(prompts)
    assert tokens.shape == (2, 32, 384) and mask.shape == (2, 32) and mask[:, 0].all()
    assert torch.allclose(pooled, shared_text_encoder("cpu")(prompts), atol=1e-5)


# -- data splits -----------------------------------------------------------------------------


def test_heldout_combinations_never_trained_on() -> None:
    held = heldout_combos()
    assert 40 <= len(held) <= 80
    rng = np.random.default_rng(0)
    for _ in range(40):
        assert combo_of(training_scene(rng)) not in held
    scenes = heldout_scenes(16, seed=3)
    assert len(scenes) == 16 and all(combo_of(s) in held for s in scenes)


# -- plugin ----------------------------------------------------------------------------------


def _same_up_to_rounding(a: np.ndarray, b: np.ndarray) -> bool:
    """Frames of one clip made alone and inside a batch: the matrix kernels add in another
    order for another batch size (float32 differences of ~1e-7 in the latents), which can move
    a few pixels across a rounding boundary, by one level at most."""
    diff = np.abs(a.astype(np.int16) - b.astype(np.int16))
    return int(diff.max()) <= 1 and float(np.mean(diff > 0)) <= 1e-3


def test_plugin_same_request_same_bytes(tiny_checkpoint: Path) -> None:
    gen = ReferenceGenerator(checkpoint=str(tiny_checkpoint), steps=2)
    a = GenerationRequest("a red ball falls", "p0", 0, seed=5)
    b = GenerationRequest("a blue box rests at the center", "p1", 0, seed=6)
    one = gen.generate(a)
    again = gen.generate(a)
    pair = gen.generate_batch([b, a])
    assert one.frames.shape == (16, 64, 64, 3) and one.fps == 8.0
    assert one.frames.tobytes() == again.frames.tobytes()
    assert _same_up_to_rounding(one.frames, pair[1].frames)  # independent of the batch
    other_seed = gen.generate(GenerationRequest("a red ball falls", "p0", 1, seed=7))
    assert other_seed.frames.tobytes() != one.frames.tobytes()
    assert one.metadata["seed"] == 5 and one.metadata["generator"] == "reference"
    assert one.metadata.get("ai_generated") is True


def test_plugin_ancestral_and_euler_samplers_reproduce_and_differ(tiny_checkpoint: Path) -> None:
    a = GenerationRequest("a red ball falls", "p0", 0, seed=5)
    b = GenerationRequest("a blue box rests at the center", "p1", 0, seed=6)
    stochastic = ReferenceGenerator(checkpoint=str(tiny_checkpoint), steps=3, eta=1.0)
    one = stochastic.generate(a)
    pair = stochastic.generate_batch([b, a])
    assert one.frames.tobytes() == stochastic.generate(a).frames.tobytes()
    assert _same_up_to_rounding(one.frames, pair[1].frames)  # step noise follows the clip's seed
    assert pair[1].frames.tobytes() == stochastic.generate_batch([b, a])[1].frames.tobytes()
    euler = ReferenceGenerator(checkpoint=str(tiny_checkpoint), steps=3, eta=0.0).generate(a)
    assert euler.frames.tobytes() != one.frames.tobytes()
    assert one.metadata["eta"] == 1.0 and euler.metadata["eta"] == 0.0
    with pytest.raises(ValueError):
        ReferenceGenerator(eta=1.5)


def test_guidance_interval_guides_only_the_steps_inside_it(tiny_checkpoint: Path) -> None:
    pipe = Pipeline.from_checkpoint(tiny_checkpoint)
    prompts, seeds = ["a red ball falls", "a blue box rests at the center"], [1, 2]

    def latents(**kw: object) -> torch.Tensor:
        return pipe.generate_latents(prompts, seeds, steps=4, eta=1.0, **kw)

    from generator.defaults import DEFAULT_GUIDANCE_INTERVAL

    full = latents(guidance=2.0, guidance_interval=(0.0, 1.0))
    assert torch.equal(latents(guidance=2.0),
                       latents(guidance=2.0, guidance_interval=DEFAULT_GUIDANCE_INTERVAL))
    # steps start at t = 1, .75, .5, .25: an interval holding none of them is no guidance
    assert torch.equal(latents(guidance=2.0, guidance_interval=(0.1, 0.2)),
                       latents(guidance=1.0))
    upper = latents(guidance=2.0, guidance_interval=(0.5, 1.0))
    assert not torch.equal(upper, full) and not torch.equal(upper, latents(guidance=1.0))
    # the bounds count as inside, although the schedule's times are float32
    assert torch.equal(latents(guidance=2.0, guidance_interval=(0.25, 1.0)), full)
    with pytest.raises(ValueError, match="0 <= lo <= hi <= 1"):
        latents(guidance=2.0, guidance_interval=(0.8, 0.2))


def test_plugin_guidance_interval_option(tiny_checkpoint: Path) -> None:
    from pydantic import ValidationError

    gen = ReferenceGenerator(checkpoint=str(tiny_checkpoint), steps=2,
                             guidance_interval=[0.5, 1.0])
    clip = gen.generate(GenerationRequest("a red ball falls", "p0", 0, seed=5))
    assert clip.metadata["guidance_interval"] == [0.5, 1.0]
    for bad in ([0.9, 0.1], [0.0, 1.5], [0.5]):
        with pytest.raises(ValidationError):
            ReferenceGenerator(guidance_interval=bad)


def test_plugin_clips_carry_provenance_marks(tiny_checkpoint: Path) -> None:
    provenance = pytest.importorskip("evalkit.provenance")
    clip = ReferenceGenerator(checkpoint=str(tiny_checkpoint), steps=2).generate(
        GenerationRequest("a red ball falls", "p0", 0, seed=1))
    marks = provenance.read_marks(clip)
    assert marks["metadata_label"]["generator"] == "reference"
    assert marks["watermark"]["detected"]


def test_plugin_options_and_check(tmp_path: Path) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        ReferenceGenerator(stepz=3)
    with pytest.raises(ValidationError):
        ReferenceGenerator(steps=0)
    gen = ReferenceGenerator(checkpoint=str(tmp_path / "missing.pt"))
    assert "not found" in gen.check([])[0]
    assert ReferenceGenerator.batch_size > 1


def test_pipeline_rejects_foreign_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "x.pt"
    torch.save({"state_dict": {}}, path)
    with pytest.raises(ValueError, match="not a reference-generator"):
        Pipeline.from_checkpoint(path)


def test_half_precision_checkpoint_is_half_the_size_and_samples_alike(tmp_path: Path) -> None:
    pipe = untrained_pipeline(seed=3, dit_name="DiT-T/2x4")
    stats = {"mean": [0.0] * 4, "std": [1.0] * 4}
    full = save_checkpoint(tmp_path / "f32.pt", pipe.dit, pipe.vae, "VAE-XS", "DiT-T/2x4", stats)
    half = save_checkpoint(tmp_path / "f16.pt", pipe.dit, pipe.vae, "VAE-XS", "DiT-T/2x4", stats,
                           dit_dtype=torch.float16)
    assert half.stat().st_size < 0.6 * full.stat().st_size
    a, b = Pipeline.from_checkpoint(full), Pipeline.from_checkpoint(half)
    assert all(p.dtype == torch.float32 for p in b.dit.parameters())
    za = a.generate_latents(["a red ball falls"], [0], steps=4)
    zb = b.generate_latents(["a red ball falls"], [0], steps=4)
    assert not torch.equal(za, zb)  # the weights really were rounded ...
    torch.testing.assert_close(zb, za, atol=2e-2, rtol=0)  # ... and sample nearly alike


@pytest.mark.skipif(not DEFAULT_CHECKPOINT.is_file(), reason="shipped checkpoint not built yet")
def test_shipped_checkpoint_loads_and_is_small() -> None:
    weights = DEFAULT_CHECKPOINT.parent
    assert sum(f.stat().st_size for f in weights.iterdir() if f.is_file()) <= 40 * 2**20
    pipe = Pipeline.from_checkpoint(DEFAULT_CHECKPOINT)
    frames = pipe.generate(["a red ball falls from the top"], [0], steps=2)
    assert frames.shape == (1, 16, 64, 64, 3) and frames.dtype == np.uint8


@pytest.mark.skipif(not DEFAULT_CHECKPOINT.is_file(), reason="shipped checkpoint not built yet")
def test_shipped_generator_draws_the_prompted_object() -> None:
    # a quality floor for the shipped weights and sampler defaults: 8 held-out prompts of the
    # model card's test set (98% tracked, 100% right colour over all 64)
    from evalkit.clip import Clip
    from generator.evaluate import clip_measures

    specs = heldout_scenes(64, seed=0)[::8]
    frames = load_pipeline().generate([s.prompt for s in specs], list(range(0, 64, 8)))
    rows = [clip_measures(Clip(f, 8.0), s, s.prompt) for s, f in zip(specs, frames)]
    assert sum(r["tracked"] and r["colour_ok"] for r in rows) >= 7, rows


# -- CLI -------------------------------------------------------------------------------------


def _cli(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "generator.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("args", [
    (), ("sample", "a red ball falls", "-o", "x.mp4", "--steps", "0"),
    ("sample", "a red ball falls", "-o", "x.mp4", "--bogus"),
    ("sample", "a red ball falls", "-o", "x.txt"),
    ("sample", "a red ball falls", "-o", "x.mp4", "--guidance-interval", "0.9,0.1"),
    ("sample", "a red ball falls", "-o", "x.mp4", "--guidance-interval", "0.5"),
    ("sample", "a red ball falls", "-o", "x.mp4", "--guidance-interval", "a,b"),
    ("train", "--config", "missing.yaml"),
    ("frobnicate",),
])
def test_cli_bad_input_one_line_exit_2(args: tuple[str, ...], tmp_path: Path) -> None:
    out = _cli(*args, cwd=tmp_path)
    assert out.returncode == 2, out.stderr
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("generator: error:"), out.stderr


def test_cli_sample_writes_video(tiny_checkpoint: Path, tmp_path: Path) -> None:
    from evalkit.video import read_video

    target = tmp_path / "out.mp4"
    out = _cli("sample", "a red ball falls", "-o", str(target), "--seed", "0", "--steps", "2",
               "--checkpoint", str(tiny_checkpoint))
    assert out.returncode == 0, out.stderr
    clip = read_video(target)
    assert clip.frames.shape == (16, 64, 64, 3)


def test_cli_bad_config_key(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"vae": {"stepz": 3}}))
    out = _cli("train", "--config", str(cfg))
    assert out.returncode == 2 and "vae.stepz" in out.stderr


# -- training (tiny, resumable) --------------------------------------------------------------


def test_train_tiny_then_resume(tmp_path: Path) -> None:
    from generator.config import TrainConfig
    from generator.train import train

    def cfg(dit_steps: int) -> TrainConfig:
        return TrainConfig.model_validate({
            "out": str(tmp_path / "run"), "threads": 1, "export": str(tmp_path / "ref.pt"),
            "vae": {"batch_size": 1, "steps": 2, "log_every": 1, "ckpt_every": 1},
            "dit": {"model": "DiT-XT/2x4", "batch_size": 2, "steps": dit_steps, "log_every": 1,
                    "ckpt_every": 1, "sample_every": 100, "sample_steps": 1,
                    "object_weight": 3.0, "lr_schedule": "cosine"}})

    train(cfg(1))
    first = torch.load(tmp_path / "run" / "dit.pt", weights_only=False)
    assert first["step"] == 1
    path = train(cfg(2))  # resumes: the VAE is done, the DiT goes on from step 1
    assert torch.load(tmp_path / "run" / "dit.pt", weights_only=False)["step"] == 2
    log = (tmp_path / "run" / "train.log").read_text()
    assert "dit: resumed at step 1" in log
    assert (tmp_path / "run" / "grids").is_dir()
    pipe = Pipeline.from_checkpoint(path)
    assert pipe.meta["dit_steps"] == 2

    # a second run starts its finer-patch DiT from this run's
    warm = cfg(1).model_copy(deep=True)
    warm.out, warm.export = str(tmp_path / "warm"), str(tmp_path / "warm.pt")
    warm.dit.model, warm.dit.init_from = "DiT-XT/1x4", str(tmp_path / "run" / "dit.pt")
    train(warm, do_export=False)
    assert "dit: warm start from" in (tmp_path / "warm" / "train.log").read_text()
    assert torch.load(tmp_path / "warm" / "dit.pt", weights_only=False)["config"]["patch"] == (1, 4, 4)

    # a run built on a shipped checkpoint: its VAE as it is (no VAE stage), its DiT retargeted
    ontop = cfg(1).model_copy(deep=True)
    ontop.out, ontop.export = str(tmp_path / "ontop"), None  # default: inside the run folder
    ontop.vae.init_from = ontop.dit.init_from = str(path)
    ontop.dit.model = "DiT-XT/1x4"
    assert train(ontop) == tmp_path / "ontop" / "reference.pt"
    made = Pipeline.from_checkpoint(tmp_path / "ontop" / "reference.pt")
    assert not (tmp_path / "ontop" / "vae.pt").exists()
    assert not (tmp_path / "ontop" / "vae_decoder.pt").exists()
    for k, v in pipe.vae.state_dict().items():
        assert torch.equal(made.vae.state_dict()[k], v), k
    torch.testing.assert_close(made.mean, pipe.mean)
    assert made.meta["vae_from"] == str(path) and "vae_steps" not in made.meta
    assert made.dit.patch == (1, 4, 4)


def test_init_from_refuses_a_mismatched_checkpoint(tiny_checkpoint: Path, tmp_path: Path) -> None:
    from generator.train import _warm_start, vae_from_checkpoint

    with pytest.raises(ValueError, match="its VAE is VAE-XS, the config says VAE-S"):
        vae_from_checkpoint(tiny_checkpoint, "VAE-S")
    with pytest.raises(FileNotFoundError, match="no generator checkpoint"):
        vae_from_checkpoint(tmp_path / "none.pt")
    torch.save({"weights": {}}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a generator checkpoint"):
        vae_from_checkpoint(tmp_path / "other.pt")
    with pytest.raises(ValueError, match="neither a run's dit.pt nor a generator checkpoint"):
        _warm_start(tmp_path / "other.pt", DiT_models["DiT-XT/1x4"](latent_shape=(4, 8, 16, 16)))


# -- evaluation ------------------------------------------------------------------------------


def test_heldout_free_falls_are_held_out_falls_in_view() -> None:
    from generator.data import _in_view, combo_of, heldout_freefall_scenes

    specs = heldout_freefall_scenes(12, seed=4)
    assert len(specs) == 12 and len({s.prompt for s in specs}) > 1
    for spec in specs:
        assert combo_of(spec) in heldout_combos() and combo_of(spec)[1] == "freefall"
        assert spec.g_mps2 == pytest.approx(9.81) and _in_view(spec)
    assert [s.prompt for s in heldout_freefall_scenes(12, seed=4)] == [s.prompt for s in specs]


def test_evaluate_cli_refuses_unknown_sets(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "generator.evaluate", "--sets", "heldout,bogus",
                          "--out", str(tmp_path / "e.json")], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 2 and "unknown condition or set 'bogus'" in out.stderr
    assert not (tmp_path / "e.json").exists()


def test_evaluation_measures_world_clip_as_perfect() -> None:
    from evalkit.world import render
    from generator.evaluate import clip_measures, summarise

    spec = next(s for s in heldout_scenes(8, seed=1) if s.objects[0].motion.value == "freefall")
    row = clip_measures(render(spec, seed=0).clip, spec, spec.prompt)
    assert row["tracked"] and row["colour_ok"]
    assert row["probe"] == "freefall" and row["rel_error_g"] < 0.05
    grey = render(spec, seed=0).clip
    blank = type(grey)(np.full_like(grey.frames, 120), grey.fps)
    empty = clip_measures(blank, spec, spec.prompt)
    assert not empty["tracked"] and not empty["colour_ok"]
    summary = summarise([row, empty])
    assert summary["tracked_rate"] == 0.5 and summary["freefall_n"] == 2


def test_evaluate_marked_and_unmarked_clips_differ_only_by_the_marks(tiny_checkpoint: Path) -> None:
    from generator.evaluate import evaluate

    res = evaluate(tiny_checkpoint, n=6, seed=3, steps=1,
                   conditions=("reference", "reference_unmarked"), sets=("heldout",))
    marked = res["sets"]["heldout"]["reference"]["clips"]
    plain = res["sets"]["heldout"]["reference_unmarked"]["clips"]
    assert [r["prompt"] for r in marked] == [r["prompt"] for r in plain] and len(plain) == 6
    from generator.defaults import DEFAULT_ETA, DEFAULT_GUIDANCE

    from generator.defaults import DEFAULT_GUIDANCE_INTERVAL

    assert res["sampler"] == {"steps": 1, "guidance": DEFAULT_GUIDANCE, "eta": DEFAULT_ETA,
                              "guidance_interval": list(DEFAULT_GUIDANCE_INTERVAL)}

    gen = ReferenceGenerator(checkpoint=str(tiny_checkpoint), steps=1)
    request = GenerationRequest("a red ball falls", "p0", 0, seed=3)
    frames = Pipeline.from_checkpoint(tiny_checkpoint).generate(["a red ball falls"], [3], steps=1)
    from evalkit.clip import Clip
    from generator.plugin import mark

    want = mark(Clip(frames[0], 8.0), "reference", gen.version).frames
    assert gen.generate(request).frames.tobytes() == want.tobytes()
