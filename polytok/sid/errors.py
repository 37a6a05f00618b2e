"""Error classes of `polytok.sid` (semantic-id's names), subclasses of ``ValueError``.

Code written for ``except ValueError`` keeps working; code ported from the ``semantic-id``
library can catch the specific classes.
"""

from __future__ import annotations


class NotFittedError(ValueError):
    """``encode``/``decode``/``save`` called on a model that was never fitted or loaded."""


class ShapeMismatchError(ValueError):
    """An input array has the wrong number of dimensions, columns or levels."""
