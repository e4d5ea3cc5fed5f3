"""Physics probes: object tracking and motion fits against physical law.

Modules, one job each: ``background`` (temporal median + background colour model), ``extract``
(per-frame objects with sub-pixel centroids), ``track`` (Hungarian linking), ``analysis``
(extraction + tracking once per clip, or exact tracks from world ground truth), ``fitting``
(least squares), ``footage`` (camera footage: streamed OpenCV tracker with camera-motion
compensation at a working resolution), ``timing`` (frame times from container stamps),
``grounding`` (the object a detector finds for the prompt), ``camera_sim`` (synthetic camera
footage of known scale), ``plot`` (a probe's trajectory on the clip as a PNG),
``select`` (which probe applies: explicit > scene > prompt words), ``motion``
(freefall, projectile, uniform_motion), ``bounce``, ``permanence``, ``constancy``, ``probes``
(:func:`physics_probes.probes.probe_clip`), ``metrics`` (evalkit metrics), ``cli``
(``evalkit probe``), ``perturb`` (world clips with wrong physics). Importing the package itself
is free of numpy/scipy so that ``evalkit --help`` stays light.
"""
