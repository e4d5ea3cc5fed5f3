#!/usr/bin/env bash
# Build the folder that tests/test_vbench_parity.py runs VBench 0.1.5's own code from.
#
#   bash scripts/make_vbench_parity_env.sh [DIR]      # default /tmp/vbench_env
#
# DIR/site: VBench 0.1.5 and what its quality dimensions import, installed with --no-deps
# beside the project's torch 2.13 CPU (nothing here brings another torch): torchvision 0.28.0
# (only its pure-Python transforms are used; tests/vbench_reference.py lists what is shimmed),
# decord 0.6.0 (VBench's mp4 reader), openai-clip 1.0.1 (+ ftfy, regex, wcwidth, and
# setuptools<81 for its pkg_resources import), easydict; timm and einops (imported by VBench's
# ViCLIP code, for overall_consistency and temporal_style); pyiqa (IQA-PyTorch, whose MUSIQ VBench's
# imaging_quality runs; PolyForm Noncommercial: used here only to compare, never imported by evalkit);
# omegaconf, antlr4 and imageio for VBench's motion_smoothness module (VBench's copy of AMT's
# code in DIR/site/vbench is also what evalkit's motion_smoothness imports in the tests).
# DIR/dino: facebookresearch/dino's vision_transformer.py at commit 7c446df5 (Apache-2.0), the
# code VBench's torch.hub.load('facebookresearch/dino:main', 'dino_vitb16') runs. Set
# DINO_CODE=FOLDER to copy it from a local checkout instead of downloading it.
set -euo pipefail
DIR="${1:-/tmp/vbench_env}"
PY="${PYTHON:-.venv/bin/python}"
mkdir -p "$DIR/site" "$DIR/dino"
"$PY" -m pip install --no-deps --target "$DIR/site" -q \
  vbench==0.1.5 torchvision==0.28.0 decord==0.6.0 openai-clip==1.0.1 easydict==1.14 \
  ftfy==6.3.1 wcwidth regex "setuptools==75.8.0" timm==1.0.31 einops==0.8.1 \
  pyiqa==0.1.16 omegaconf==2.3.0 antlr4-python3-runtime==4.9.3 imageio==2.38.2
if [ -n "${DINO_CODE:-}" ]; then
  cp "$DINO_CODE/vision_transformer.py" "$DINO_CODE/utils.py" "$DIR/dino/"
else
  for f in vision_transformer.py utils.py; do
    curl -fsSL "https://raw.githubusercontent.com/facebookresearch/dino/7c446df5b9f45747937fb0d72314eb9f7b66930a/$f" -o "$DIR/dino/$f"
  done
fi
echo "VBench parity environment ready in $DIR (tests: VBENCH_PARITY_ENV=$DIR)"
