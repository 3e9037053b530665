"""What *Try again* must not repeat: the replies already shown for one prompt in its thread.

Every retry links (``Interaction.parent_id``) to the first reply to its prompt, so the replies
shown for a prompt are that first reply and the interactions linked to it. Older retries linked
to the reply whose button was pressed; walking ``parent_id`` up finds their first reply too.
"""

from __future__ import annotations

from dataclasses import dataclass

from tuning.records import Interaction
from tuning.store.base import Store

MAX_HOPS = 100  # a chain longer than any thread; guards against a cycle in stored links


@dataclass(frozen=True)
class Shown:
    """The first reply to a prompt, and the texts of every reply shown for it so far."""

    first: Interaction
    texts: tuple[str, ...]


async def shown_for(store: Store, interaction: Interaction) -> Shown:
    """Return the first reply to ``interaction``'s prompt and every reply shown for it."""
    chain = [interaction]
    seen = {interaction.id}
    while (parent_id := chain[-1].parent_id) and parent_id not in seen and len(chain) < MAX_HOPS:
        parent = await store.get_interaction(parent_id)
        if parent is None:  # forgotten or never stored: the oldest we have starts the prompt
            break
        chain.append(parent)
        seen.add(parent.id)
    first = chain[-1]
    replies = [first, *await store.linked_interactions(parent_id=first.id), *chain]
    texts = tuple(dict.fromkeys(reply.output for reply in replies if reply.output))
    return Shown(first=first, texts=texts)
