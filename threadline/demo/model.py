"""The demo plant's master data: one product family, its parts, revisions, BOMs, routings and people.

Everything here is fixed and small; only the production run (units, lots, events) scales with ``units``.
The plant builds a serialised flow controller (FC-1000) from two serialised subassemblies (SM-2100
sensor module, VB-2200 valve body) and purchased, lot-controlled components. The fastener kit FST-3500
is used at both BOM levels. ECO-2024-0117 moves FC-1000 from revision B to C mid-production (adding an
EMI gasket, GSK-3800, and a gasket-compression check).

People are owned by MES (its personnel model, ISA-95 style): operators, inspectors, engineers and the
material review board all live in one personnel export; PLM and QMS refer to them by employee id.
"""

from __future__ import annotations

from dataclasses import dataclass, field

TOP = "FC-1000"
SENSOR = "SM-2100"
VALVE = "VB-2200"
FASTENER = "FST-3500"
GASKET = "GSK-3800"


@dataclass(frozen=True)
class Part:
    number: str
    name: str
    description: str
    uom: str
    serialized: bool
    make_or_buy: str  # "make" / "buy"
    erp_type: str  # SAP-like material type: FERT finished, HALB semi-finished, ROH raw/purchased


@dataclass(frozen=True)
class Revision:
    part: str
    label: str
    state: str  # in-work / released / obsolete
    released_at: str  # ISO dateTime; the top assembly's C release is filled in by the plan
    effective_from: str
    effective_to: str
    supersedes: str


@dataclass(frozen=True)
class BomLine:
    parent: str
    parent_rev: str
    find: str
    child: str
    qty: str
    uom: str
    refdes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Characteristic:
    cid: str
    name: str
    part: str
    rev: str
    nominal: float
    lower: float
    upper: float
    uom: str
    decimals: int


@dataclass(frozen=True)
class Step:
    part: str
    rev: str
    seq: int
    name: str
    work_center: str
    units: tuple[str, ...]  # work units the step runs on
    final: bool
    characteristics: tuple[str, ...] = ()


@dataclass(frozen=True)
class Person:
    pid: str
    name: str
    role: str
    mrb: bool


@dataclass(frozen=True)
class Component:
    """A purchased lot-controlled part as the line consumes it."""

    part: str
    qty: str  # per consuming assembly
    uses: int  # assemblies consuming it per finished unit (FST-3500 is used at both levels)
    lot_size: int  # standard supplier lot, in consumptions
    suppliers: tuple[str, ...]
    split: int = 1  # received lots are split into this many line-side sublots


PARTS: tuple[Part, ...] = (
    Part(TOP, "Flow controller assembly", "Mass flow controller, 0-10 bar, serialised", "EA", True, "make", "FERT"),
    Part(SENSOR, "Sensor module", "Thermal flow sensor module with calibrated PCB", "EA", True, "make", "HALB"),
    Part(VALVE, "Valve body assembly", "Proportional valve body with seals", "EA", True, "make", "HALB"),
    Part("PCB-3100", "Sensor PCB", "Populated sensor board", "EA", False, "buy", "ROH"),
    Part("HSG-3200", "Sensor housing", "Anodised aluminium housing", "EA", False, "buy", "ROH"),
    Part("CST-3300", "Valve body casting", "Stainless steel investment casting", "EA", False, "buy", "ROH"),
    Part("SEAL-3400", "O-ring seal", "FKM O-ring 12x2", "EA", False, "buy", "ROH"),
    Part(FASTENER, "Fastener kit M4", "M4 screws and washers, kit of 8", "EA", False, "buy", "ROH"),
    Part("ENC-3600", "Enclosure", "Powder-coated enclosure", "EA", False, "buy", "ROH"),
    Part(GASKET, "EMI gasket", "Conductive elastomer gasket", "EA", False, "buy", "ROH"),
    Part("ADH-3900", "Thread-locking adhesive", "Medium-strength anaerobic adhesive", "ML", False, "buy", "ROH"),
)
PART_BY_NUMBER = {p.number: p for p in PARTS}

# Revisions of parts other than the top assembly; C's release date depends on the production plan.
FIXED_REVISIONS: tuple[Revision, ...] = (
    Revision(SENSOR, "A", "released", "2023-06-12T09:00:00Z", "2023-06-19", "", ""),
    Revision(VALVE, "A", "released", "2023-06-14T10:30:00Z", "2023-06-19", "", ""),
    Revision("PCB-3100", "A", "released", "2023-05-02T08:00:00Z", "2023-05-08", "", ""),
    Revision("HSG-3200", "A", "released", "2023-05-02T08:10:00Z", "2023-05-08", "", ""),
    Revision("CST-3300", "A", "released", "2023-05-03T13:00:00Z", "2023-05-08", "", ""),
    Revision("SEAL-3400", "A", "released", "2023-05-03T13:20:00Z", "2023-05-08", "", ""),
    Revision(FASTENER, "A", "released", "2023-05-04T07:45:00Z", "2023-05-08", "", ""),
    Revision("ENC-3600", "A", "released", "2023-05-04T08:15:00Z", "2023-05-08", "", ""),
    Revision("ADH-3900", "A", "released", "2023-05-05T11:00:00Z", "2023-05-08", "", ""),
)
# The revision deliberately released without an approval signature (a seeded gap).
UNSIGNED_REVISION = ("ADH-3900", "A")

COMPONENTS: tuple[Component, ...] = (
    Component("PCB-3100", "1", 1, 400, ("SUP-ELX",), split=4),
    Component("HSG-3200", "1", 1, 500, ("SUP-ALU",)),
    Component("CST-3300", "1", 1, 300, ("SUP-CAST",)),
    Component("SEAL-3400", "2", 1, 1000, ("SUP-SEAL",)),
    Component(FASTENER, "1", 3, 2000, ("SUP-FAST", "SUP-FST2"), split=4),
    Component("ENC-3600", "1", 1, 600, ("SUP-ALU",)),
    Component(GASKET, "1", 1, 800, ("SUP-SEAL",)),
    Component("ADH-3900", "0.5", 1, 500, ("SUP-CHEM",)),
)
COMPONENT_BY_PART = {c.part: c for c in COMPONENTS}
MERGED_PART = "ADH-3900"  # its first two received containers are merged before use

SUPPLIERS: tuple[tuple[str, str, str], ...] = (
    ("SUP-ELX", "Rhone Electronics SA", "approved"),
    ("SUP-ALU", "Alpes Aluminium SARL", "approved"),
    ("SUP-CAST", "Precicast GmbH", "approved"),
    ("SUP-SEAL", "Sealtech Italia Srl", "approved"),
    ("SUP-FAST", "Boulonnerie du Forez", "approved"),
    ("SUP-FST2", "Nordic Fasteners AB", "conditional"),
    ("SUP-CHEM", "Chemadhesive BV", "approved"),
    ("SUP-OLD", "Legacy Plastics Ltd", "disqualified"),
)


def bom_lines() -> tuple[BomLine, ...]:
    lines: list[BomLine] = []
    for rev in ("A", "B", "C"):
        lines += [
            BomLine(TOP, rev, "10", SENSOR, "1", "EA", ("A1",)),
            BomLine(TOP, rev, "20", VALVE, "1", "EA", ("A2",)),
            BomLine(TOP, rev, "30", "ENC-3600", "1", "EA"),
            BomLine(TOP, rev, "40", FASTENER, "1", "EA"),
        ]
    lines.append(BomLine(TOP, "C", "50", GASKET, "1", "EA", ("G1",)))
    lines += [
        BomLine(SENSOR, "A", "10", "PCB-3100", "1", "EA", ("U1",)),
        BomLine(SENSOR, "A", "20", "HSG-3200", "1", "EA"),
        BomLine(SENSOR, "A", "30", FASTENER, "1", "EA"),
        BomLine(VALVE, "A", "10", "CST-3300", "1", "EA"),
        BomLine(VALVE, "A", "20", "SEAL-3400", "2", "EA", ("S1", "S2")),
        BomLine(VALVE, "A", "30", FASTENER, "1", "EA"),
        BomLine(VALVE, "A", "40", "ADH-3900", "0.5", "ML"),
    ]
    return tuple(lines)


def _chars(
    part: str, rev: str, specs: tuple[tuple[str, str, float, float, float, str, int], ...]
) -> tuple[Characteristic, ...]:
    return tuple(
        Characteristic(f"CH-{part}-{rev}-{key}", name, part, rev, nom, lo, hi, uom, dec)
        for key, name, nom, lo, hi, uom, dec in specs
    )


_FLOW = ("FLOW", "Flow accuracy", 0.0, -1.5, 1.5, "%FS", 3)
_PRESS = ("PRESS", "Outlet pressure", 6.0, 5.8, 6.2, "bar", 3)
_GASK = ("GASK", "Gasket compression", 0.8, 0.7, 0.9, "mm", 3)
CHARACTERISTICS: tuple[Characteristic, ...] = (
    *_chars(TOP, "B", (_FLOW, _PRESS)),
    *_chars(TOP, "C", (_FLOW, _PRESS, _GASK)),
    *_chars(SENSOR, "A", (("OFFSET", "Zero offset", 0.0, -2.0, 2.0, "mV", 3),)),
    *_chars(VALVE, "A", (("LEAK", "Leak rate", 0.2, 0.0, 0.5, "sccm", 4),)),
)
CHAR_BY_ID = {c.cid: c for c in CHARACTERISTICS}


_SM = f"CH-{SENSOR}-A"
_VB = f"CH-{VALVE}-A"


def routing_steps() -> tuple[Step, ...]:
    steps: list[Step] = []
    for rev in ("B", "C"):
        final = (f"CH-{TOP}-{rev}-PRESS",) + ((f"CH-{TOP}-{rev}-GASK",) if rev == "C" else ())
        steps += [
            Step(TOP, rev, 10, "Final assembly", "WC-FIN", ("WU-FIN-01", "WU-FIN-02"), False),
            Step(TOP, rev, 20, "Functional flow test", "WC-TST", ("WU-FLOW-01",), False, (f"CH-{TOP}-{rev}-FLOW",)),
            Step(TOP, rev, 30, "Final inspection", "WC-FQC", ("WU-PG-01",), True, final),
        ]
    steps += [
        Step(SENSOR, "A", 10, "PCB mount and housing close", "WC-SUB", ("WU-SUB-01", "WU-SUB-02"), False),
        Step(SENSOR, "A", 20, "Calibration and final inspection", "WC-SUB", ("WU-CAL-01",), True, (f"{_SM}-OFFSET",)),
        Step(VALVE, "A", 10, "Valve body assembly", "WC-SUB", ("WU-SUB-01", "WU-SUB-02"), False),
        Step(VALVE, "A", 20, "Leak test and final inspection", "WC-SUB", ("WU-LEAK-01",), True, (f"{_VB}-LEAK",)),
    ]
    return tuple(steps)


# ISA-95 equipment hierarchy: (id, name, level, type, parent)
EQUIPMENT: tuple[tuple[str, str, str, str, str], ...] = (
    ("SITE-LYS", "Lyon plant", "Site", "site", ""),
    ("AREA-ASM", "Assembly hall", "Area", "area", "SITE-LYS"),
    ("AREA-QA", "Quality laboratory", "Area", "area", "SITE-LYS"),
    ("WC-SUB", "Subassembly cell", "WorkCenter", "assembly-cell", "AREA-ASM"),
    ("WC-FIN", "Final assembly line", "WorkCenter", "assembly-line", "AREA-ASM"),
    ("WC-TST", "Functional test cell", "WorkCenter", "test-cell", "AREA-QA"),
    ("WC-FQC", "Final inspection station", "WorkCenter", "inspection-station", "AREA-QA"),
    ("WU-SUB-01", "Subassembly bench 1", "WorkUnit", "assembly-bench", "WC-SUB"),
    ("WU-SUB-02", "Subassembly bench 2", "WorkUnit", "assembly-bench", "WC-SUB"),
    ("WU-CAL-01", "Sensor calibration rig", "WorkUnit", "calibration-rig", "WC-SUB"),
    ("WU-LEAK-01", "Helium leak tester", "WorkUnit", "leak-tester", "WC-SUB"),
    ("WU-FIN-01", "Final assembly station 1", "WorkUnit", "assembly-station", "WC-FIN"),
    ("WU-FIN-02", "Final assembly station 2", "WorkUnit", "assembly-station", "WC-FIN"),
    ("WU-FLOW-01", "Flow calibration bench", "WorkUnit", "flow-bench", "WC-TST"),
    ("WU-PG-01", "Pressure gauge station", "WorkUnit", "gauge-station", "WC-FQC"),
)

_FIRST_NAMES = (
    "Camille Louis Chloe Hugo Lea Jules Manon Noah Ines Lucas Sarah Adam Emma Nathan Jade Arthur Alice Paul Zoe "
    "Ethan Lina Tom Eva Leo Rose Gabriel"
)
_LAST_NAMES = (
    "Martin Bernard Dubois Thomas Robert Richard Petit Durand Leroy Moreau Simon Laurent Lefebvre Michel Garcia "
    "David Bertrand Roux Vincent Fournier Morel Girard Andre Mercier Dupont Lambert"
)
_FIRST = tuple(_FIRST_NAMES.split())
_LAST = tuple(_LAST_NAMES.split())


def people() -> tuple[Person, ...]:
    roles = (
        [(f"E1{i + 1:03d}", "operator", False) for i in range(16)]
        + [(f"E2{i + 1:03d}", "inspector", False) for i in range(4)]
        + [(f"E3{i + 1:03d}", "quality-engineer", True) for i in range(3)]
        + [("E4001", "design-engineer", True), ("E4002", "design-engineer", False)]
        + [("E5001", "manufacturing-engineer", False)]
    )
    return tuple(
        Person(pid, f"{_FIRST[i % len(_FIRST)]} {_LAST[(i * 7) % len(_LAST)]}", role, mrb)
        for i, (pid, role, mrb) in enumerate(roles)
    )


PEOPLE = people()
OPERATORS = tuple(p.pid for p in PEOPLE if p.role == "operator")
INSPECTORS = tuple(p.pid for p in PEOPLE if p.role == "inspector")
MRB = tuple(p.pid for p in PEOPLE if p.mrb)
NON_MRB_APPROVER = "E5001"  # manufacturing engineer, not on the MRB: the seeded bad disposition approver
RELEASE_SIGNERS = ("E4001", "E4002")
ECO_APPROVERS = ("E4001", "E3001", "E5001")


@dataclass(frozen=True)
class Plant:
    """Master data as one object, so writers take a single argument."""

    parts: tuple[Part, ...] = PARTS
    components: tuple[Component, ...] = COMPONENTS
    characteristics: tuple[Characteristic, ...] = CHARACTERISTICS
    steps: tuple[Step, ...] = field(default_factory=routing_steps)
    bom: tuple[BomLine, ...] = field(default_factory=bom_lines)
    people: tuple[Person, ...] = PEOPLE
