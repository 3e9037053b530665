"""Map emoji reactions to ratings: which reaction on which kind of interaction means what.

>>> DEFAULT_FEEDBACK_MAP.rating("generate", "thumbsup::skin-tone-3")
1
>>> DEFAULT_FEEDBACK_MAP.rating("classify", "x")
-1
>>> DEFAULT_FEEDBACK_MAP.rating("generate", "x") is None
True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from tuning.records import Kind

# Slack sends skin-toned reactions as "thumbsup::skin-tone-2"; the tone carries no rating.
_SKIN_TONE_SEPARATOR = "::"


def base_reaction(name: str) -> str:
    """Return the reaction name without a skin-tone suffix, lower-cased."""
    return name.split(_SKIN_TONE_SEPARATOR, 1)[0].strip().lower()


def _table(plus: tuple[str, ...], minus: tuple[str, ...]) -> Mapping[str, int]:
    return MappingProxyType({**dict.fromkeys(plus, 1), **dict.fromkeys(minus, -1)})


@dataclass(frozen=True)
class FeedbackMap:
    """Ratings per interaction kind and reaction name; unmapped reactions are not feedback."""

    generate: Mapping[str, int] = field(
        default_factory=lambda: _table(
            ("+1", "thumbsup", "joy", "laughing"), ("-1", "thumbsdown", "unamused", "face_palm")
        )
    )
    classify: Mapping[str, int] = field(
        default_factory=lambda: _table(
            ("white_check_mark", "heavy_check_mark"), ("x", "no_entry_sign")
        )
    )

    def __post_init__(self) -> None:
        for table in (self.generate, self.classify):
            for name, rating in table.items():
                if rating not in (1, -1) or base_reaction(name) != name:
                    raise ValueError(f"bad feedback mapping {name!r} -> {rating!r}")

    def rating(self, kind: Kind, reaction: str) -> int | None:
        """Return +1 or -1 for ``reaction`` on an interaction of ``kind``, or None if unmapped."""
        table = self.generate if kind == "generate" else self.classify
        return table.get(base_reaction(reaction))


DEFAULT_FEEDBACK_MAP = FeedbackMap()
