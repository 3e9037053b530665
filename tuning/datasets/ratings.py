"""Net human ratings per interaction, from feedback records.

>>> from tuning.records import Feedback
>>> net_ratings([
...     Feedback(interaction_id="a", user="U1", reaction="+1", rating=1),
...     Feedback(interaction_id="a", user="U2", reaction="-1", rating=-1),
...     Feedback(interaction_id="a", user="U3", reaction="fire", rating=1),
...     Feedback(interaction_id="b", user="U1", reaction="+1", rating=1, retracted=True),
... ])
{'a': 1}
"""

from __future__ import annotations

from collections.abc import Iterable

from tuning.records import Feedback


def net_ratings(feedback: Iterable[Feedback]) -> dict[str, int]:
    """Return the sum of unretracted ratings per interaction id that has any."""
    net: dict[str, int] = {}
    for item in feedback:
        add_rating(net, item)
    return net


def add_rating(net: dict[str, int], item: Feedback) -> None:
    """Add one feedback record to running net ratings (a retracted one counts for nothing)."""
    if not item.retracted:
        net[item.interaction_id] = net.get(item.interaction_id, 0) + item.rating
