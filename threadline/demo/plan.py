"""The production plan for one run: timeline, work orders, the ECO cut-over, lots, NCRs and seeded gaps.

All decisions that need randomness or cross-unit knowledge are taken here, before any file is written,
so the writers can stream unit by unit in constant memory. Every choice comes from one
``random.Random(seed)``, which makes a run byte-identical for a seed.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from threadline.demo import model
from threadline.demo.clock import DAY, HOUR, day_of, to_seconds
from threadline.errors import DemoError

MIN_UNITS = 25  # below this the 2 % NCR floor and the seeded gaps do not fit among ordinary units
MAX_UNITS = 2_000_000
PRODUCTION_START = to_seconds("2024-01-08T06:00:00Z")
SPAN = 300 * DAY
SHIFT_AFTER_CUTOVER = 2 * DAY
DISPOSITION_CYCLE = ("rework", "use-as-is", "rework", "repair", "scrap", "rework")


@dataclass
class LotPlan:
    """Received lots of one purchased part and how consumption walks through them."""

    part: str
    qty: str
    capacity: int  # consumptions one received lot serves
    split: int
    lots: list[str] = field(default_factory=list)  # received lot numbers, in consumption order
    suppliers: list[str] = field(default_factory=list)
    received_at: list[int] = field(default_factory=list)
    merged_lot: str = ""  # lot made by merging received lots 0 and 1 (MERGED_PART only)

    def consumed_lot(self, counter: int) -> str:
        j = counter // self.capacity
        if self.merged_lot and j < 2:
            return self.merged_lot
        if self.split > 1:
            return f"{self.lots[j]}-{(counter % self.capacity) // (self.capacity // self.split) + 1}"
        return self.lots[j]


@dataclass
class Plan:
    units: int
    seed: int
    chunks: list[list[int]]
    start: list[int]
    revision: list[str]  # FC-1000 revision each finished unit is built to
    cutover_chunk: int
    effective_from_day: int
    c_released_at: int
    eco_approved_at: int
    pilot: int
    late_b: list[int]  # built to B after the ECO took effect (the "impact" question)
    ncr_units: list[int]  # finished units with an NCR, in time order
    no_final_inspection: list[int]
    out_of_limits_pass: list[int]
    operatorless: list[int]  # units whose final-assembly operation lost its operator
    lots: dict[str, LotPlan]
    no_coc_lot: str
    rejected_lot: str  # spare casting lot rejected at incoming inspection
    export_at: int


def _chunk_size(units: int) -> int:
    return min(25, max(4, units // 8))


def build(units: int, seed: int) -> Plan:
    if not MIN_UNITS <= units <= MAX_UNITS:
        raise DemoError(f"units must be between {MIN_UNITS} and {MAX_UNITS}, got {units}")
    rng = random.Random(seed)
    size = _chunk_size(units)
    pilot = int(units * 0.4)
    chunks: list[list[int]] = []
    current: list[int] = []
    for i in range(units):
        if i == pilot:
            if current:
                chunks.append(current)
            chunks.append([i])
            current = []
            continue
        current.append(i)
        if len(current) == size:
            chunks.append(current)
            current = []
    if current:
        chunks.append(current)

    cut_index = int(units * 0.55)
    cutover = next(k for k, c in enumerate(chunks) if cut_index in c)
    if chunks[cutover] == [pilot] or len(chunks[cutover]) < 2:
        cutover += 1
    if cutover >= len(chunks) - 1:
        raise DemoError(f"{units} units are too few to place the ECO cut-over")
    straddle = chunks[cutover]
    late_b = straddle[-min(3, len(straddle) - 1) :]
    after = set(late_b)
    for chunk in chunks[cutover + 1 :]:
        after.update(chunk)

    step = SPAN // units
    start = [0] * units
    for i in range(units):
        t = PRODUCTION_START + i * step + rng.randrange(0, max(1, step // 3))
        start[i] = t + SHIFT_AFTER_CUTOVER if i in after else t
    last_on_time = max(start[i] for c in chunks[: cutover + 1] for i in c if i not in after)
    effective_day = day_of(last_on_time) + 1
    c_released_at = (effective_day - 5) * DAY + 14 * HOUR
    eco_approved_at = (effective_day - 7) * DAY + 10 * HOUR
    if start[pilot] >= c_released_at:
        raise DemoError("pilot unit would start after revision C's release")

    revision = ["C" if i in after and i not in late_b else "B" for i in range(units)]
    revision[pilot] = "C"

    special = {pilot, *late_b}
    normal = [i for i in range(units) if i not in special and i not in chunks[-1]]
    n_ncr = max(10, round(units * 0.02))
    picks = rng.sample(normal, n_ncr + 6)
    ncr_units = sorted(picks[:n_ncr])
    no_final = sorted(picks[n_ncr : n_ncr + 2])
    out_pass = sorted(picks[n_ncr + 2 : n_ncr + 4])
    operatorless = sorted(picks[n_ncr + 4 : n_ncr + 6])

    lots, no_coc, rejected = _plan_lots(units, revision, start, rng)
    return Plan(
        units=units,
        seed=seed,
        chunks=chunks,
        start=start,
        revision=revision,
        cutover_chunk=cutover,
        effective_from_day=effective_day,
        c_released_at=c_released_at,
        eco_approved_at=eco_approved_at,
        pilot=pilot,
        late_b=late_b,
        ncr_units=ncr_units,
        no_final_inspection=no_final,
        out_of_limits_pass=out_pass,
        operatorless=operatorless,
        lots=lots,
        no_coc_lot=no_coc,
        rejected_lot=rejected,
        export_at=(day_of(max(start)) + 12) * DAY + 18 * HOUR,
    )


def _plan_lots(
    units: int, revision: list[str], start: list[int], rng: random.Random
) -> tuple[dict[str, LotPlan], str, str]:
    c_units = [i for i in range(units) if revision[i] == "C"]
    first, last = min(start), max(start)
    plans: dict[str, LotPlan] = {}
    seq = 0
    for comp in model.COMPONENTS:
        need = len(c_units) * comp.uses if comp.part == model.GASKET else units * comp.uses
        users_first = min(start[i] for i in c_units) if comp.part == model.GASKET else first
        cap = min(comp.lot_size, max(comp.split, math.ceil(need / 3)))
        cap = math.ceil(cap / comp.split) * comp.split
        count = math.ceil(need / cap) + 1  # one spare lot stays in stores
        plan = LotPlan(comp.part, comp.qty, cap, comp.split)
        for j in range(count):
            seq += 1
            plan.lots.append(f"L{seq:07d}")
            plan.suppliers.append(comp.suppliers[j % len(comp.suppliers)])
            when = users_first + (last - users_first) * j * cap // max(need, 1) - 7 * DAY
            if j == count - 1:
                when = min(when, last - 20 * DAY)
            plan.received_at.append(when - rng.randrange(0, 6 * HOUR))
        if comp.part == model.MERGED_PART:
            plan.merged_lot = f"M{seq:07d}"
        plans[comp.part] = plan
    no_coc = plans["HSG-3200"].lots[1]
    rejected = plans["CST-3300"].lots[-1]
    return plans, no_coc, rejected
