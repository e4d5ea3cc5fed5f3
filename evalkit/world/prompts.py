"""Prompts: a plain-English sentence for every scene, and a parser for the same grammar.

Grammar of :func:`prompt_for` (one clause per object, joined with " and "):

    freefall    "a red ball falls from the upper left"
    projectile  "a blue box is thrown to the right from the top"
    uniform     "a green ball moves left across the center"  (or "up", "down and to the right")
    bounce      "a yellow ball falls from the top and bounces on the floor"
                "a cyan box is thrown to the left from the upper right and bounces on the floor"
    rest        "a white box rests at the lower right"
    occluded    "a red ball moves right from the left behind a gray wall"

followed by " on a textured <colour> background" (textured) or " on a <colour> background" (plain,
not gray). The region is the 3x3-grid cell of the start position
(:data:`~evalkit.world.regions.REGIONS`).

:func:`parse_prompt` inverts this and reads close paraphrases: verbs per :data:`MOTION_WORDS`
(checked in that priority order, so "thrown ... and bounces" is a bounce), shape nouns
(ball/sphere/orb/marble, box/cube/block/square/crate/brick), colour words and a few synonyms
(grey, violet, pink, ...), size adjectives (small/tiny x0.6, large/big/huge x1.5), regions after a
preposition ("from/at/across/in/on/near the upper left", "top-left", "middle"), directions
(left/right/up/down, "to the right", "leftwards"). Defaults for what a prompt leaves out:
a red ball; motion ``rest``; region top row for falling and thrown objects, middle row
otherwise, with horizontal movers starting on the side they move away from; a bounce placed in its
cell so the first floor contact comes half-way through the clip if it can; speed
:data:`DEFAULT_SPEED_MPS` towards the middle of the view; an occluder placed where an ``occluded``
object is half-way through the clip; the default :class:`SceneSpec` camera, gravity and timing.
Objects named together ("a red ball and a blue box fall from the top") share the verb and region.
"""

from __future__ import annotations

import re

from pydantic import ValidationError

from evalkit.world.palette import OCCLUDER_PALETTE, PALETTE
from evalkit.world.regions import REGIONS, region_bounds
from evalkit.world.scene import (
    DEFAULT_SIZE_M,
    MAX_OBJECTS,
    Background,
    Motion,
    Occluder,
    SceneSpec,
    occluder_width_m,
)

__all__ = ["prompt_for", "parse_prompt", "motion_from_words", "world_prompt_problem", "MOTION_WORDS",
           "DEFAULT_SPEED_MPS"]

#: Speed (m/s) given to moving objects whose prompt gives none: 9.4 m (23 px) over a default clip.
DEFAULT_SPEED_MPS = 5.0
#: A velocity is called diagonal when its smaller component exceeds tan(22.5 deg) of the larger.
DIAGONAL_RATIO = 0.4142
DEFAULT_BACKGROUND_COLOUR = "gray"
#: A parsed bounce starts so that it first touches the floor this far into the clip (if its
#: region allows: from the top row of the default view the contact comes only near the end).
BOUNCE_CONTACT_SHARE = 0.5
SMALL_SCALE, LARGE_SCALE = 0.6, 1.5

# -- generation ------------------------------------------------------------------------------


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def _direction(vx: float, vy: float) -> str:
    """'left', 'up', 'down and to the right', ... for a velocity (``vy > 0`` is down)."""
    horizontal = "right" if vx > 0 else "left"
    vertical = "down" if vy > 0 else "up"
    if abs(vy) <= DIAGONAL_RATIO * abs(vx):
        return horizontal
    if abs(vx) <= DIAGONAL_RATIO * abs(vy):
        return vertical
    return f"{vertical} and to the {horizontal}"


def _clause(spec: SceneSpec, index: int) -> str:
    obj = spec.objects[index]
    subject = f"{_article(obj.colour)} {obj.colour} {obj.shape}"
    region = spec.start_region(index)
    side = "right" if obj.vx_mps > 0 else "left"
    m = obj.motion
    if m is Motion.FREEFALL:
        return f"{subject} falls from the {region}"
    if m is Motion.PROJECTILE:
        return f"{subject} is thrown to the {side} from the {region}"
    if m is Motion.UNIFORM:
        return f"{subject} moves {_direction(obj.vx_mps, obj.vy_mps)} across the {region}"
    if m is Motion.BOUNCE:
        start = "falls" if obj.vx_mps == 0 else f"is thrown to the {side}"
        return f"{subject} {start} from the {region} and bounces on the floor"
    if m is Motion.REST:
        return f"{subject} rests at the {region}"
    wall = spec.occluder.colour if spec.occluder is not None else "gray"
    return f"{subject} moves {side} from the {region} behind {_article(wall)} {wall} wall"


def prompt_for(spec: SceneSpec) -> str:
    """The prompt of a scene (see the module docstring for the grammar)."""
    text = " and ".join(_clause(spec, i) for i in range(len(spec.objects)))
    bg = spec.background
    if bg.kind == "textured":
        text += f" on a textured {bg.colour} background"
    elif bg.colour != DEFAULT_BACKGROUND_COLOUR:
        text += f" on {_article(bg.colour)} {bg.colour} background"
    return text


# -- word lists ------------------------------------------------------------------------------

#: Verb patterns per motion, in priority order (the first that matches wins).
MOTION_WORDS: tuple[tuple[Motion, str], ...] = (
    (Motion.OCCLUDED, r"behind|occlud\w*|hidden|hides"),
    (Motion.BOUNCE, r"bounc\w*|rebound\w*"),
    (Motion.PROJECTILE, r"thrown|throws?|throwing|launch\w*|toss\w*|hurl\w*|flung|flings?|fired|"
                        r"lob(?:s|bed)?"),
    (Motion.FREEFALL, r"falls?|falling|fell|drops?|dropped|dropping|plummet\w*|plunge[sd]?"),
    (Motion.REST, r"rests?|resting|sits?|sitting|lies|lying|lays?|stays?|still|stationary|"
                  r"motionless|static|stands?|standing"),
    (Motion.UNIFORM, r"moves?|moving|slides?|sliding|rolls?|rolling|glides?|gliding|drifts?|"
                     r"drifting|travels?|travell?ing|goes|going|cross(?:es|ing)|floats?|floating|"
                     r"passes|passing|heads?|heading"),
)
_MOTION_RES = tuple((m, re.compile(rf"\b(?:{p})\b")) for m, p in MOTION_WORDS)

_COLOUR_WORDS = {**{c: c for c in PALETTE}, "violet": "purple", "pink": "magenta",
                 "aqua": "cyan", "turquoise": "cyan", "gold": "yellow", "golden": "yellow",
                 "crimson": "red", "scarlet": "red"}
_SHAPE_WORDS = {"ball": "ball", "sphere": "ball", "orb": "ball", "marble": "ball", "circle": "ball",
                "box": "box", "cube": "box", "block": "box", "square": "box", "crate": "box",
                "brick": "box", "object": None, "thing": None, "shape": None}
_SIZE_WORDS = {"small": SMALL_SCALE, "little": SMALL_SCALE, "tiny": SMALL_SCALE,
               "large": LARGE_SCALE, "big": LARGE_SCALE, "huge": LARGE_SCALE}
_REGION_WORDS = {**{r: r for r in REGIONS}, "top left": "upper left", "top right": "upper right",
                 "bottom left": "lower left", "bottom right": "lower right", "centre": "center",
                 "middle": "center", "left side": "left", "right side": "right"}
_BACKGROUND_WORDS = {"gray": "gray", "grey": "gray", "dark": "dark", "black": "dark",
                     "beige": "beige", "sand": "beige", "cream": "beige", "sky": "sky",
                     "blue": "sky", "light": "sky"}
_OCCLUDER_WORDS = {**{c: c for c in OCCLUDER_PALETTE}, "grey": "gray", "dark": "black"}


def _alts(words) -> str:
    return "|".join(sorted(map(re.escape, words), key=len, reverse=True))  # longest first


_SIZE_ALT = _alts(_SIZE_WORDS)
_MENTION_RE = re.compile(
    rf"\b(?:(?:a|an|the|one)\s+)?(?:(?P<size>{_SIZE_ALT})\s+)?"
    rf"(?:(?P<colour>{_alts(_COLOUR_WORDS)})\s+)?"
    rf"(?:(?P<size2>{_SIZE_ALT})\s+)?(?P<shape>{_alts(_SHAPE_WORDS)})\b")
_REGION_RE = re.compile(
    rf"\b(?:from|at|across|in|on|near|through|over|along|starting at)\s+the\s+"
    rf"(?P<region>{_alts(_REGION_WORDS)})\b")
_HORIZONTAL_RE = re.compile(r"\b(left|right)(?:wards?)?\b")
_VERTICAL_RE = re.compile(r"\b(up|down)(?:wards?)?\b")
_BACKGROUND_RE = re.compile(
    r"\b(?:on|against|with|over|in front of)\s+(?:a|an|the)\s+"
    r"(?:(?P<kind>textured|patterned|noisy|plain)\s+)?"
    r"(?:(?P<colour>\w+)\s+)?(?:background|backdrop)\b")
_OCCLUDER_RE = re.compile(r"\bbehind\s+(?:a|an|the)\s+(?:(?P<colour>\w+)\s+)?(?P<noun>\w+)\b")
_ANY_COLOUR_RE = re.compile(rf"\b({_alts(_COLOUR_WORDS)})\b")


def motion_from_words(text: str) -> Motion | None:
    """The motion a (single-object) prompt describes, from its verbs; ``None`` if none found.

    For a prompt naming several objects, the motion of the first one.
    """
    text = _normalise(text)
    mentions = list(_MENTION_RE.finditer(text))
    if len(mentions) > 1:
        text = text[: mentions[1].start()]
    return _motion_in(text)


def _motion_in(text: str) -> Motion | None:
    for motion, pattern in _MOTION_RES:
        if pattern.search(text):
            return motion
    return None


def _normalise(text: str) -> str:
    text = re.sub(r"[^a-z0-9\s]", " ", text.lower().replace("-", " "))
    return re.sub(r"\s+", " ", text).strip()


# -- parsing ---------------------------------------------------------------------------------


class _Parsed:
    """What one object clause says (``None`` = not said)."""

    def __init__(self, clause: str, mention: re.Match | None) -> None:
        groups = mention.groupdict() if mention else {}
        colour_word = groups.get("colour")
        if colour_word is None:
            any_colour = _ANY_COLOUR_RE.search(clause)
            colour_word = any_colour.group(1) if any_colour else None
        self.colour = _COLOUR_WORDS.get(colour_word) if colour_word else None
        self.shape = _SHAPE_WORDS.get(groups.get("shape") or "")
        size_word = groups.get("size") or groups.get("size2")
        self.scale = _SIZE_WORDS.get(size_word, 1.0) if size_word else 1.0
        self.motion = _motion_in(clause)
        region = _REGION_RE.search(clause)
        self.region = _REGION_WORDS[region.group("region")] if region else None
        rest = _REGION_RE.sub(" ", clause)  # so "from the left" is not read as a direction
        h, v = _HORIZONTAL_RE.search(rest), _VERTICAL_RE.search(rest)
        self.dx = None if h is None else (1 if h.group(1) == "right" else -1)
        self.dy = None if v is None else (1 if v.group(1) == "down" else -1)


def parse_prompt(text: str) -> SceneSpec | None:
    """A scene matching a prompt in the :func:`prompt_for` grammar (or a close paraphrase).

    Returns ``None`` when neither an object nor a motion can be recognised. What the prompt does
    not say takes the defaults listed in the module docstring. At most three objects are kept.
    """
    text = _normalise(text)
    background = Background()
    bg = _BACKGROUND_RE.search(text)
    if bg:
        kind = "plain" if bg.group("kind") in (None, "plain") else "textured"
        colour = _BACKGROUND_WORDS.get(bg.group("colour") or "", DEFAULT_BACKGROUND_COLOUR)
        background = Background(kind=kind, colour=colour)
        text = (text[: bg.start()] + " " + text[bg.end():]).strip()
    occluder_colour = "gray"
    occ = _OCCLUDER_RE.search(text)
    if occ:
        occluder_colour = _OCCLUDER_WORDS.get(occ.group("colour") or "", "gray")
        text = _OCCLUDER_RE.sub("behind the occluder", text)  # its noun is not an object

    mentions = list(_MENTION_RE.finditer(text))[:MAX_OBJECTS]
    if not mentions:
        if _motion_in(text) is None:
            return None
        parsed = [_Parsed(text, None)]
    else:
        cuts = [0] + [m.start() for m in mentions[1:]] + [len(text)]
        parsed = [_Parsed(text[cuts[i]: cuts[i + 1]], m) for i, m in enumerate(mentions)]
    _share_verbs(parsed)
    return _build_scene(parsed, background, occluder_colour)


def world_prompt_problem(text: str) -> str | None:
    """Why the physics world (and a model trained on it) cannot draw ``text``; None if it can.

    The world draws balls and boxes: a prompt must name one (a shape word of the grammar, or
    "object"/"shape") and :func:`parse_prompt` must read it. "a cat falls" has a motion but no
    object the world knows, so a model trained here would draw a red ball and call it a cat.
    """
    if not text.strip():
        return "the prompt is empty"
    if _MENTION_RE.search(_normalise(text)) is None or parse_prompt(text) is None:
        return (f"'{text}' is outside the physics world: it draws one to three balls or boxes "
                f"({', '.join(PALETTE)}) that fall, are thrown, move, bounce, rest or pass behind "
                "a wall, e.g. 'a red ball falls from the upper left'")
    return None


def _share_verbs(parsed: list[_Parsed]) -> None:
    """Clauses without a verb ("a red ball and a blue box fall ...") take the next one's."""
    for i, p in enumerate(parsed):
        if p.motion is not None:
            continue
        donors = [q for q in parsed[i + 1:] if q.motion is not None] or \
                 [q for q in reversed(parsed[:i]) if q.motion is not None]
        if donors:
            d = donors[0]
            p.motion = d.motion
            p.region = p.region or d.region
            p.dx, p.dy = (p.dx if p.dx is not None else d.dx), (p.dy if p.dy is not None else d.dy)


def _build_scene(parsed: list[_Parsed], background: Background,
                 occluder_colour: str) -> SceneSpec | None:
    scene = SceneSpec()
    w, h, t_end = scene.view_width_m, scene.view_height_m, scene.t_end_s
    motions = [p.motion or Motion.REST for p in parsed]
    regions = [p.region or _default_region(m, p.dx) for p, m in zip(parsed, motions)]
    # Objects starting in the same cell are spread across it so they do not overlap.
    slots: dict[str, list[int]] = {}
    for i, r in enumerate(regions):
        slots.setdefault(r, []).append(i)
    objects, occluder = [], None
    for i, (p, motion, region) in enumerate(zip(parsed, motions, regions)):
        x_lo, x_hi, y_lo, y_hi = region_bounds(region, w, h)
        peers = slots[region]
        x0 = x_lo + (peers.index(i) + 0.5) * (x_hi - x_lo) / len(peers)
        y0 = 0.5 * (y_lo + y_hi)
        size = DEFAULT_SIZE_M * p.scale
        toward_middle = 1 if x0 <= w / 2 else -1
        dx = p.dx if p.dx is not None else toward_middle
        vx = vy = 0.0
        if motion in (Motion.PROJECTILE, Motion.OCCLUDED):
            vx = dx * DEFAULT_SPEED_MPS
        elif motion is Motion.BOUNCE:
            vx = 0.0 if p.dx is None else p.dx * DEFAULT_SPEED_MPS
            # Start, within the region's cell, where the first contact comes at
            # BOUNCE_CONTACT_SHARE of the clip, so the rebound is seen.
            y_contact = scene.floor_m - size
            drop = 0.5 * scene.g_mps2 * (BOUNCE_CONTACT_SHARE * t_end) ** 2
            inset = 1e-6 * h
            y0 = min(max(y_contact - drop, y_lo + inset), y_hi - inset, y_contact)
        elif motion is Motion.UNIFORM:
            if p.dx is None and p.dy is not None:
                vy = p.dy * DEFAULT_SPEED_MPS
            elif p.dy is None:
                vx = dx * DEFAULT_SPEED_MPS
            else:
                vx, vy = (dx * DEFAULT_SPEED_MPS / 2**0.5, p.dy * DEFAULT_SPEED_MPS / 2**0.5)
        if motion is Motion.OCCLUDED:
            if occluder is None:
                occluder = Occluder(x_m=x0 + vx * t_end / 2, colour=occluder_colour,
                                    width_m=occluder_width_m(size, vx, scene.fps))
            else:  # cross the wall that is already there, half-way through the clip
                gap = occluder.x_m - x0
                vx = (1 if gap >= 0 else -1) * max(DEFAULT_SPEED_MPS, 2 * abs(gap) / t_end)
        objects.append(dict(shape=p.shape or "ball", colour=p.colour or "red", size_m=size,
                            motion=motion, x0_m=x0, y0_m=y0, vx_mps=vx, vy_mps=vy))
    try:
        return SceneSpec(objects=objects, occluder=occluder, background=background)
    except ValidationError:
        # An occluded object that cannot cross the wall: keep it moving, without the wall.
        for o in objects:
            if o["motion"] is Motion.OCCLUDED:
                o["motion"] = Motion.UNIFORM
        try:
            return SceneSpec(objects=objects, occluder=occluder, background=background)
        except ValidationError:
            return None


def _default_region(motion: Motion, dx: int | None) -> str:
    # Falls and throws start high; a bounce starts mid-height so it reaches the floor in time.
    row = 0 if motion in (Motion.FREEFALL, Motion.PROJECTILE) else 1
    col = 1 if dx is None else (0 if dx > 0 else 2)
    if motion in (Motion.PROJECTILE, Motion.OCCLUDED) and dx is None:
        col = 0  # horizontal movers default to starting at the left, moving right
    return REGIONS[row * 3 + col]
