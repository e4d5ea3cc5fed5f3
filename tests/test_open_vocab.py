"""The open-vocabulary detector (OWLv2 via transformers) on tiny models the tests build."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from evalkit.errors import EvalkitError
from evalkit.open_vocab import Detection, OpenVocabDetector, OpenVocabWeightsUnavailable
from tiny_models import make_tiny_owlv2


pytestmark = pytest.mark.usefixtures("hub_offline")


@pytest.fixture(scope="module")
def tiny_owlv2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_owlv2(tmp_path_factory.mktemp("tiny_owlv2"))


def _grid_detector(folder: Path, score_logit: float = 2.0) -> OpenVocabDetector:
    """A detector whose boxes are exactly OWLv2's patch-grid priors and whose scores are constant.

    With the last box layer zeroed, each box is sigmoid(box_bias): centred on the bottom-right
    corner of its patch ((j+1)/n), one patch wide. With the class embedding and the logit scale
    zeroed, every logit is the shift's bias.
    """
    detector = OpenVocabDetector.load(folder, local_files_only=True)
    # A fresh copy: load() caches per process and other tests need the random model.
    model = type(detector.model).from_pretrained(folder).eval()
    with torch.no_grad():
        for layer in (model.box_head.dense2, model.class_head.dense0, model.class_head.logit_scale):
            layer.weight.zero_()
            layer.bias.zero_()
        model.class_head.logit_shift.weight.zero_()
        model.class_head.logit_shift.bias.fill_(score_logit)
    return OpenVocabDetector(model, detector.processor, str(folder))


def test_boxes_are_in_pixels_of_the_frame_padding_removed(tiny_owlv2: Path) -> None:
    # 48x80 frame: OWLv2 pads it to 80x80 (bottom), 64-px input, 16-px patches -> a 4x4 grid of
    # 20-px cells in frame pixels; rows whose box starts in the padding are dropped, the row that
    # straddles the frame's bottom edge is clipped to it.
    detector = _grid_detector(tiny_owlv2)
    frames = np.random.default_rng(0).integers(0, 256, (3, 48, 80, 3), dtype=np.uint8)
    per_frame = detector.detect(frames, ["a red ball", "a hand"], threshold=0.5)
    assert len(per_frame) == 3
    expected = sorted((x0, y0, min(x0 + 20, 80), min(y0 + 20, 48)) for y0 in (10, 30) for x0 in (10, 30, 50, 70))
    for dets in per_frame:
        assert all(isinstance(d, Detection) for d in dets)
        got = sorted(d.box for d in dets)
        assert len(got) == len(expected)
        np.testing.assert_allclose(np.array(got), np.array(expected, dtype=float), atol=0.05)
        np.testing.assert_allclose([d.score for d in dets], 1 / (1 + np.exp(-2.0)), rtol=1e-5)
        assert {d.label for d in dets} <= {"a red ball", "a hand"}


def test_threshold_filters_and_best_returns_none_when_nothing_passes(tiny_owlv2: Path) -> None:
    detector = _grid_detector(tiny_owlv2, score_logit=-3.0)  # every score sigmoid(-3) = 0.047
    frames = np.zeros((2, 64, 64, 3), dtype=np.uint8)
    assert detector.detect(frames, ["a ball"], threshold=0.1) == [[], []]
    assert detector.best(frames, "a ball", threshold=0.1) == [None, None]
    assert all(len(d) == 16 for d in detector.detect(frames, ["a ball"], threshold=0.01))


def test_random_model_batches_agree_with_single_frames(tiny_owlv2: Path) -> None:
    detector = OpenVocabDetector.load(tiny_owlv2, local_files_only=True, batch_size=3)
    frames = np.random.default_rng(1).integers(0, 256, (4, 40, 56, 3), dtype=np.uint8)
    batched = detector.detect(frames, ["a red ball"], threshold=0.0)
    single = [detector.detect(frames[i : i + 1], ["a red ball"], threshold=0.0)[0] for i in range(4)]
    for a, b in zip(batched, single):
        assert [d.label for d in a] == [d.label for d in b]
        np.testing.assert_allclose([d.score for d in a], [d.score for d in b], rtol=1e-4, atol=1e-6)


def test_bad_input_is_refused_with_a_message(tiny_owlv2: Path) -> None:
    detector = OpenVocabDetector.load(tiny_owlv2, local_files_only=True)
    with pytest.raises(ValueError, match="uint8"):
        detector.detect(np.zeros((1, 8, 8, 3), dtype=np.float32), ["x"])
    with pytest.raises(ValueError, match="queries"):
        detector.detect(np.zeros((1, 8, 8, 3), dtype=np.uint8), [""])


def test_missing_model_is_one_line_error_with_how_to_fetch(tmp_path: Path) -> None:
    with pytest.raises(OpenVocabWeightsUnavailable) as err:
        OpenVocabDetector.load(tmp_path / "nowhere", local_files_only=True)
    message = str(err.value)
    assert "\n" not in message and "save_pretrained" in message and "hf download" in message
    assert isinstance(err.value, EvalkitError)  # the CLI prints it as one line, exit code 2


def test_a_model_that_is_not_owl_is_refused(tmp_path: Path) -> None:
    from transformers import BertConfig

    BertConfig(hidden_size=8, num_hidden_layers=1, num_attention_heads=2, intermediate_size=8).save_pretrained(tmp_path)
    with pytest.raises(OpenVocabWeightsUnavailable, match="supports OWLv2"):
        OpenVocabDetector.load(tmp_path, local_files_only=True)
