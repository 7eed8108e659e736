"""Draw the ontology's class diagram as SVG, deterministically, in plain Python.

Hand-written because the usual layout engines are external binaries (Graphviz, PlantUML's Java) that an
air-gapped plant may not have, and their layouts shift between versions, which would break the check that
docs/ontology.svg is current. The layout is fixed by design instead: one column per area of the model
(`threadline.ontology.AREAS`), boxes stacked in that order, each box listing its class's properties. An object
property's arrow starts at its row and ends on the box of its range class, so the row is the arrow's label;
subclasses are drawn inside their parent's box. Arrows are drawn beneath the boxes and coloured by the area
they start from, so one that passes behind a box can still be followed.

    python -m threadline.ontology.diagram [-o docs/ontology.svg]
"""

from __future__ import annotations

import argparse
import html
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

from threadline.ontology import TL, Vocabulary, curie, local_name, vocabulary

COLUMNS = {"supply": 0, "provenance": 0, "design": 1, "production": 2, "quality": 3, "other": 3}
COLOURS = {
    "supply": "#b35806",
    "design": "#1f5fa8",
    "production": "#2a7d3b",
    "quality": "#7b3294",
    "provenance": "#5f6673",
    "other": "#5f6673",
}
FONT = "'Liberation Sans', Arial, Helvetica, sans-serif"
MARGIN, TOP, GAP, VGAP, AREA_GAP = 110, 150, 150, 22, 52
LOOP_SIDE = {0: -1, 1: -1, 2: -1, 3: 1}  # side of a box where arrows within one column bulge out
HEADER, ROW, PAD, CHAR = 26, 17, 6, 6.0


@dataclass
class Row:
    text: str
    kind: str  # "object", "datatype" or "subclasses"
    targets: tuple[str, ...] = ()
    y: float = 0.0


@dataclass
class Box:
    name: str
    area: str
    members: tuple[str, ...]  # class IRIs drawn in this box: the class and its subclasses
    rows: list[Row] = field(default_factory=list)
    x: float = 0.0
    y: float = 0.0
    w: float = 0.0

    @property
    def h(self) -> float:
        return HEADER + PAD * 2 + ROW * len(self.rows)


def _boxes(vocab: Vocabulary) -> list[Box]:
    boxes: list[Box] = []
    owner: dict[str, str] = {}
    for term in vocab.classes:
        parent = next((s for s in term.superclasses if s.startswith(str(TL)) and s in owner), None)
        if parent is None:
            owner[term.iri] = term.name
            boxes.append(Box(term.name, term.area, (term.iri,)))
        else:
            owner[term.iri] = owner[parent]
            box = next(b for b in boxes if b.name == owner[parent])
            box.members += (term.iri,)
    position = {b.name: (COLUMNS.get(b.area, 3), i) for i, b in enumerate(boxes)}
    for box in boxes:
        subclasses = [local_name(iri) for iri in box.members[1:]]
        if subclasses:
            box.rows.append(Row("⊃ " + ", ".join(subclasses), "subclasses"))
        own = [p for p in vocab.properties if p.kind != "annotation" and set(p.domains) & set(box.members)]
        objects = []
        for prop in (p for p in own if p.kind == "object"):
            targets = tuple(dict.fromkeys(owner[r] for r in prop.ranges if r in owner))
            shown = " | ".join(local_name(r) if r in owner else curie(r) for r in prop.ranges) or "(any)"
            many = "" if prop.functional else " [*]"
            objects.append(Row(f"{prop.name} → {shown}{many}", "object", targets))
        objects.sort(key=lambda r: (min((position[t] for t in r.targets), default=(9, 0)), r.text))
        datatypes = [
            Row(
                f"{p.name} : {local_name(p.ranges[0]) if p.ranges else 'any'}{'' if p.functional else ' [*]'}",
                "datatype",
            )
            for p in own
            if p.kind == "datatype"
        ]
        box.rows.extend(objects + sorted(datatypes, key=lambda r: r.text))
    return boxes


def _layout(boxes: list[Box]) -> tuple[float, float]:
    longest = max(len(r.text) for b in boxes for r in b.rows)
    width = float(max(230, math.ceil(longest * CHAR) + 20))
    heights: dict[int, float] = {}
    previous_area: dict[int, str] = {}
    for box in boxes:
        col = COLUMNS.get(box.area, 3)
        y = heights.get(col, TOP)
        if col in previous_area and previous_area[col] != box.area:
            y += AREA_GAP
        previous_area[col] = box.area
        box.x, box.y, box.w = MARGIN + col * (width + GAP), y, width
        for i, row in enumerate(box.rows):
            row.y = y + HEADER + PAD + ROW * i + ROW / 2
        heights[col] = y + box.h + VGAP
    total_w = MARGIN * 2 + 4 * width + 3 * GAP
    return total_w, max(heights.values()) + 10


def _n(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _edges(boxes: list[Box]) -> list[str]:
    by_name = {b.name: b for b in boxes}
    wanted: list[tuple[Box, Row, Box, int]] = []  # source box, row, target box, side (+1 right, -1 left)
    for box in boxes:
        for row in box.rows:
            for target in (by_name[t] for t in row.targets):
                across = -1 if target.x < box.x else 1
                side = LOOP_SIDE[COLUMNS.get(box.area, 3)] if target.x == box.x else across
                wanted.append((box, row, target, side))
    ports: dict[tuple[str, int], list[tuple[float, float, int]]] = {}
    for index, (box, row, target, side) in enumerate(wanted):
        end_side = side if target.x == box.x else -side
        ports.setdefault((target.name, end_side), []).append((row.y, box.x, index))
    end_y: dict[int, float] = {}
    for (name, _), entries in ports.items():
        target = by_name[name]
        step = (target.h - 12) / (len(entries) + 1)
        for rank, (_, _, index) in enumerate(sorted(entries)):
            end_y[index] = target.y + 6 + step * (rank + 1)
    paths = []
    for index, (box, row, target, side) in enumerate(wanted):
        x1 = box.x + box.w if side > 0 else box.x
        y1, y2 = row.y, end_y[index]
        if target.x == box.x:
            x2 = x1
            bulge = 24 + min(72.0, abs(y2 - y1) * 0.1)
            c1, c2 = (x1 + side * bulge, y1), (x2 + side * bulge, y2)
        else:
            x2 = target.x if side > 0 else target.x + target.w
            reach = max(60.0, abs(x2 - x1) * 0.42)
            c1, c2 = (x1 + side * reach, y1), (x2 - side * reach, y2)
        colour = COLOURS.get(box.area, COLOURS["other"])
        paths.append(
            f'<path d="M{_n(x1)},{_n(y1)} C{_n(c1[0])},{_n(c1[1])} {_n(c2[0])},{_n(c2[1])} {_n(x2)},{_n(y2)}" '
            f'stroke="{colour}" marker-end="url(#arrow-{box.area})"/>'
            f'<circle cx="{_n(x1)}" cy="{_n(y1)}" r="2.5" fill="{colour}"/>'
        )
    return paths


def _box(box: Box) -> str:
    colour = COLOURS.get(box.area, COLOURS["other"])
    parts = [
        f'<a href="#{html.escape(box.name)}"><g>',
        f'<rect x="{_n(box.x)}" y="{_n(box.y)}" width="{_n(box.w)}" height="{_n(box.h)}" rx="5" fill="#fff" '
        f'stroke="{colour}" stroke-width="1.5"/>',
        f'<path d="M{_n(box.x)},{_n(box.y + HEADER)} v{-HEADER + 5} a5,5 0 0 1 5,-5 h{_n(box.w - 10)} '
        f'a5,5 0 0 1 5,5 v{HEADER - 5} z" fill="{colour}"/>',
        f'<text x="{_n(box.x + 10)}" y="{_n(box.y + 18)}" class="title">{html.escape(box.name)}</text>',
    ]
    for row in box.rows:
        parts.append(
            f'<text x="{_n(box.x + 10)}" y="{_n(row.y + 4)}" class="{row.kind}">{html.escape(row.text)}</text>'
        )
    parts.append("</g></a>")
    return "".join(parts)


def _legend(x: float, y: float, vocab: Vocabulary) -> str:
    lines = [
        "Each arrow is the object property on the row it starts from (●), pointing to its range class.",
        "Rows: property → range class, or property : XSD datatype; [*] = repeatable, else functional.",
        "⊃ lists subclasses drawn inside their parent's box. Alignments: ontology/alignments.ttl.",
        "Not drawn: tl:sourceRecord (any mapped subject → SourceRecord); tl:signs (→ any signed record).",
    ]
    out = [
        f'<text x="{_n(x)}" y="{_n(y)}" class="heading">{html.escape(vocab.title)} {html.escape(vocab.version)}</text>'
    ]
    out += [
        f'<text x="{_n(x)}" y="{_n(y + 20 + 16 * i)}" class="legend">{html.escape(t)}</text>'
        for i, t in enumerate(lines)
    ]
    return "".join(out)


def render_svg(vocab: Vocabulary | None = None) -> str:
    """The class diagram as a standalone SVG document (no XML declaration, so it can also be inlined in HTML)."""
    vocab = vocab if vocab is not None else vocabulary()
    boxes = _boxes(vocab)
    width, height = _layout(boxes)
    markers = "".join(
        f'<marker id="arrow-{area}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        f'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{colour}"/></marker>'
        for area, colour in COLOURS.items()
    )
    headings = []
    seen: set[str] = set()
    for box in boxes:
        if box.area not in seen:
            seen.add(box.area)
            colour = COLOURS.get(box.area, COLOURS["other"])
            headings.append(
                f'<text x="{_n(box.x)}" y="{_n(box.y - 10)}" class="area" fill="{colour}">{box.area.upper()}</text>'
            )
    # Scoped to the root element: the page inlines this SVG, and an SVG <style> applies to the whole document.
    style = (
        f".tl-diagram text{{font-family:{FONT};font-size:12px;fill:#1d2330}}"
        ".tl-diagram .title{font-size:14px;font-weight:bold;fill:#fff}.tl-diagram .datatype{fill:#5f6673}"
        ".tl-diagram .subclasses{font-style:italic}"
        ".tl-diagram .area{font-size:13px;font-weight:bold;letter-spacing:1px}"
        ".tl-diagram .heading{font-size:18px;font-weight:bold}.tl-diagram .legend{font-size:12.5px;fill:#3d4555}"
        ".tl-diagram path[marker-end]{fill:none;stroke-width:1.3;stroke-opacity:.8}"
    )
    body = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="tl-diagram" width="{_n(width)}" height="{_n(height)}" '
        f'viewBox="0 0 {_n(width)} {_n(height)}" role="img" aria-label="{html.escape(vocab.title)} class diagram">',
        f"<style>{style}</style><defs>{markers}</defs>",
        f'<rect width="{_n(width)}" height="{_n(height)}" fill="#fff"/>',
        _legend(30, 28, vocab),
        *headings,
        '<g class="edges">',
        *_edges(boxes),
        "</g>",
        *(_box(box) for box in boxes),
        "</svg>\n",
    ]
    return "\n".join(body)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m threadline.ontology.diagram", description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", default="docs/ontology.svg", help="SVG file to write, or - for stdout")
    args = parser.parse_args(argv)
    svg = render_svg()
    if args.output == "-":
        sys.stdout.write(svg)
    else:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(svg, encoding="utf-8")
        print(f"wrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
