"""The two styles of generated footage and the parts of the realistic one, each of which can be switched off.

    simple:     today's flat identities (one outline x one pattern texture x one hue), a nadir camera with small
                drift, references as clean close-ups: a matcher can pass it by comparing hue and outline.
    realistic:  objects built from parts (straps, pockets, wheels, windows, limbs) with materials, prints and dirt,
                lit by one sun with cast shadows; a drone that climbs and descends (objects ~8-80 px in a 640-wide
                frame), turns slowly and flies with its camera tilted; motion blur; objects partly hidden under
                bushes and tall grass; clutter that is not an object; hard distractors (another object of the
                target's category, something of the target's colour); references taken at ground level in a
                cluttered place, off-centre, sometimes cut by the border, under other light.

Training on one style and testing on the other measures how far a model carries beyond the look it trained on.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

from ...errors import InputError

STYLES = ("realistic", "simple")


@dataclass(frozen=True)
class Realism:
    """Which parts of the realistic scene are on. `Realism.off()` is the simple style's scene."""

    altitude: bool = True          # zoom changes through the flight (climb, descend)
    rotation: bool = True          # a slow turn of the heading
    tilt: bool = True              # the camera pitched off straight down: perspective
    motion_blur: bool = True       # blur along the camera's motion between frames
    occluders: bool = True         # bushes and tall grass over parts of objects
    clutter: bool = True           # rocks, logs, puddles, litter: things that are not objects
    hard_distractors: bool = True  # another identity of the target's category; the target's colour elsewhere
    cast_shadows: bool = True      # shadows from each object's height, along the sun
    ref_settings: bool = True      # references in a cluttered place at ground level, off-centre, sometimes cropped

    @classmethod
    def off(cls) -> "Realism":
        return cls(**{f.name: False for f in fields(cls)})

    @classmethod
    def for_style(cls, style: str) -> "Realism":
        if style not in STYLES:
            raise InputError(f"style must be one of {', '.join(STYLES)}, got {style!r}")
        return cls() if style == "realistic" else cls.off()


def default_object_size(width: int, style: str = "simple") -> tuple[float, float]:
    """(min, max) longest box side of a target: simple 12-60 px, realistic 8-80 px in a 640-wide frame, scaled."""
    lo, hi = (12.0, 60.0) if style == "simple" else (8.0, 80.0)
    return lo * width / 640, hi * width / 640
