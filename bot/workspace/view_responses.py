"""What Slack does with an app's answer to a ``view_submission``.

https://docs.slack.dev/surfaces/modals/#updating_response: an empty body closes the modal;
``response_action`` ``errors`` keeps it open with a message under each named input block,
``update`` replaces it, ``clear`` closes it. Errors naming a block that is not an input block
of the view are what Slack refuses: the person sees Slack's generic failure line instead.
"""

from __future__ import annotations

import logging

from bot.workspace.model import JSON
from bot.workspace.state import ApiFailure, WorkspaceState

log = logging.getLogger(__name__)
# What Slack's client shows when it cannot use the app's answer to a submission.
TROUBLE = "We had some trouble connecting. Try again?"
MAX_ERROR_CHARS = 150  # Slack truncates each inline error message


def apply_view_response(state: WorkspaceState, *, user: str, view: JSON, body: JSON) -> None:
    """Change ``user``'s modal as Slack would for the app's acknowledgement ``body``."""
    action = body.get("response_action")
    if not action or action == "clear":
        state.close_modal(user=user)
    elif action == "errors":
        state.modal_errors[user] = _errors(view, body.get("errors"))
    elif action == "update" and isinstance(body.get("view"), dict):
        try:
            state.open_modal(user=user, view=body["view"])
        except ApiFailure:
            state.modal_errors[user] = {"": TROUBLE}
    else:
        log.info("unsupported response_action %r", action)
        state.modal_errors[user] = {"": TROUBLE}


def _errors(view: JSON, errors: object) -> dict[str, str]:
    inputs = {b.get("block_id") for b in view.get("blocks") or [] if b.get("type") == "input"}
    if not isinstance(errors, dict) or not errors:
        return {"": TROUBLE}
    if any(key not in inputs or not isinstance(text, str) for key, text in errors.items()):
        log.info("response_action errors names blocks that are not inputs: %s", sorted(errors))
        return {"": TROUBLE}
    return {key: text[:MAX_ERROR_CHARS] for key, text in errors.items()}
