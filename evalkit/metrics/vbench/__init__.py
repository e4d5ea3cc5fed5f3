"""VBench's dimensions (Huang et al., CVPR 2024; VBench 0.1.5 on PyPI), one module per dimension.

Quality: ``subject_consistency``, ``background_consistency``, ``aesthetic_quality``,
``dynamic_degree``, ``motion_smoothness`` (AMT's code imported from the user's VBench copy,
never shipped), ``imaging_quality`` and (in :mod:`evalkit.metrics.flicker`)
``temporal_flickering`` with VBench's static filter. Semantic: ``overall_consistency``,
``temporal_style``, ``appearance_style`` and the object-grounded dimensions
(:mod:`.object_dimensions`). Backbones are resolved in :mod:`evalkit.metrics.vbench.weights`;
the quality dimensions' networks load in :mod:`evalkit.metrics.vbench.backbones`; frame
transforms are in :mod:`evalkit.metrics.vbench.preprocess`; RAFT is ported in
:mod:`evalkit.metrics.vbench.raft` (BSD-3-Clause, ``RAFT_LICENSE.txt``); VBench's Quality /
Semantic / Total and its results file are in :mod:`evalkit.metrics.vbench.aggregate`.

Importing this package imports neither torch nor transformers.
"""
