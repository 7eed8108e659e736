"""The audit trail: hash-chained entries written in the same transaction as the change they record.

See ``chain`` (entries, canonical form, ``writer_lock``), ``verify``, ``archive`` (replaced statements stay
retrievable) and ``export`` (CSV/PDF for inspectors); docs/security.md explains the design to an inspector.
"""

from __future__ import annotations

from threadline.audit.archive import (
    archived_triples,
    graph_digest,
    preserve_matching,
    preserve_update,
)
from threadline.audit.chain import (
    ACTIONS,
    AUDIT_GRAPH,
    GENESIS,
    REASON_REQUIRED,
    AuditError,
    canonical,
    entry_hash,
    entry_update,
    head,
    writer_lock,
)
from threadline.audit.export import export
from threadline.audit.guard import commit
from threadline.audit.verify import Broken, VerifyResult, verify
from threadline.namespaces import ARCHIVE_PREFIX, archive_iri

__all__ = [
    "ACTIONS",
    "ARCHIVE_PREFIX",
    "AUDIT_GRAPH",
    "GENESIS",
    "REASON_REQUIRED",
    "AuditError",
    "Broken",
    "VerifyResult",
    "archive_iri",
    "archived_triples",
    "canonical",
    "commit",
    "entry_hash",
    "entry_update",
    "export",
    "graph_digest",
    "head",
    "preserve_matching",
    "preserve_update",
    "verify",
    "writer_lock",
]
