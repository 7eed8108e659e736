"""Demo thread generator: realistic PLM/ERP/MES/QMS exports of one plant, with seeded compliance gaps.

``generate(out_dir, units, seed)`` writes ``out_dir/{plm,erp,mes,qms}`` in each source system's own shape
and ``out_dir/manifest.json`` listing counts, the seeded gaps and ground truth for tests; with
``history_days``, also ``out_dir/history/day-NN/`` delta exports and what each day changed (``history``).
"""

from threadline.demo.generate import DEFAULT_SEED, generate
from threadline.demo.manifest import GAP_KINDS, Gap, Manifest

__all__ = ["DEFAULT_SEED", "GAP_KINDS", "Gap", "Manifest", "generate"]
