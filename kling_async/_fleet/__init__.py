"""A fleet of workers sharing Kling accounts through PostgreSQL (``kling-async[postgres]``).

``PostgresStore`` keeps the batch journal, job ownership (leases) and the account capacity
ledger; ``FleetWorker`` runs one process's share of a batch.  See ``_store``, ``_ledger``,
``_worker``.
"""

from ._db import FleetStoreError, LeaseLostError
from ._store import LeasedJournal, PostgresStore
from ._worker import FleetResult, FleetWorker

__all__ = ["FleetResult", "FleetStoreError", "FleetWorker", "LeaseLostError", "LeasedJournal",
           "PostgresStore"]
