"""JSON for Agent-Protocol bodies (the encoder lives in ``eawe.jsonable``, shared with the engine)."""

from eawe.jsonable import iso, jsonable

__all__ = ["iso", "jsonable"]
