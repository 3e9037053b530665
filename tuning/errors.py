"""One exception tree for the whole project, rooted in :class:`SarcasmError`.

"Not found" is ``None`` from a getter; these exceptions mean something is broken or refused.
Each carries a message fit to show a user on one line; the log gets the chained cause.
"""


class SarcasmError(Exception):
    """Root of every error this project raises on purpose."""


class ConfigError(SarcasmError):
    """A setting is missing or invalid; ``variable`` names it."""

    def __init__(self, variable: str, message: str) -> None:
        super().__init__(f"{variable}: {message}")
        self.variable = variable


class StoreError(SarcasmError):
    """The store could not be read or written."""


class NotFoundError(SarcasmError):
    """An action named something (a model version, a job) that does not exist."""


class ConflictError(SarcasmError):
    """An action collided with existing state (a duplicate id, a running job)."""


class ModelError(SarcasmError):
    """A model could not be loaded, trained or called."""


class DatasetError(SarcasmError):
    """Input data is empty, malformed or too small."""


class BackendError(SarcasmError):
    """A tuning backend (Vertex AI, GCS) refused or failed a request."""


class QueueError(SarcasmError):
    """The work queue could not take, lease or finish an item (store down, disk full, Pub/Sub)."""


class PushError(QueueError, ValueError):
    """A Pub/Sub push request's body is not a push envelope holding one of our work items."""
