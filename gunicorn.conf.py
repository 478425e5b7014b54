"""gunicorn's settings for the portal, read from the working directory (or given with `-c gunicorn.conf.py`).

Only what the portal needs of every deployment is here; workers, threads and the address stay on the command line.
"""

from __future__ import annotations

import gc
from typing import Any


def post_worker_init(worker: Any) -> None:
    """Once the worker has built the application, move everything alive then (some 250,000 objects: the models'
    metadata, the compiled templates and translations, the routing map) out of the cyclic garbage collector's reach.

    They live as long as the worker, but every full collection walked them all: about 200 ms on a 2-core machine,
    which fell on whichever request happened to allocate the object that tipped the count, once every few hundred
    requests (the slowest render of a page 160 to 200 ms where its median is 10). Frozen, a full collection walks
    only what requests created since (`gc.freeze`, as the Python documentation advises for pre-fork servers).
    Garbage is collected first, so nothing that is already garbage is kept for ever.
    """
    gc.collect()
    gc.freeze()
