"""VBench's dimensions (Huang et al., CVPR 2024; VBench 0.1.5 on PyPI), one module per dimension.

Quality dimensions computed here: ``subject_consistency``, ``background_consistency``,
``aesthetic_quality``, ``dynamic_degree`` and (in :mod:`evalkit.metrics.flicker`)
``temporal_flickering`` with VBench's static filter. Their backbones are resolved in
:mod:`evalkit.metrics.vbench.weights` and loaded in :mod:`evalkit.metrics.vbench.backbones`;
frame transforms are in :mod:`evalkit.metrics.vbench.preprocess`; RAFT is ported in
:mod:`evalkit.metrics.vbench.raft` (BSD-3-Clause, ``RAFT_LICENSE.txt``).

Importing this package imports neither torch nor transformers.
"""
