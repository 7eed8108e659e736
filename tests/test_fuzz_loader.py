"""Fuzz the loader with malformed exports: every failure is an IngestError naming file and place, and a failed
load leaves the store byte-for-byte as it was (same digest) — never a partial load.

Inputs are the demo generator's real exports, broken the ways exports break in plants: cut off mid-record,
rows with too few or too many columns, unbalanced quotes, invalid JSON, unclosed or stray XML tags, impossible
dates, malformed decimals, spaces and brackets in IRI-bearing fields. A mutation that happens to stay valid may
load (that is correct); then the original file is loaded back so the next example starts from the thread.
Bounded (about 30 examples over two backends), reproducible (``derandomize=True``).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import REPO
from threadline.errors import IngestError, SourceError
from threadline.ingest import load_files
from threadline.store import Store, open_store

INGEST = REPO / "ingest"
pytestmark = pytest.mark.filterwarnings("ignore:Generating overly large repr")
# (system, file): CSV, JSON, JSON Lines and XML, all small enough to load many times in a test
TARGETS = [
    ("plm", "parts.csv"),
    ("plm", "revisions.csv"),
    ("erp", "suppliers.csv"),
    ("erp", "receipts.csv"),
    ("plm", "ecos.json"),
    ("qms", "ncrs.json"),
    ("mes", "lot-events.jsonl"),
    ("mes", "production-performance.xml"),
]
NASTY = [
    "",
    ",",
    '"',
    "\n",
    "2024-13-45",
    "2024-02-30T25:61:00Z",
    "1,5e",
    "NaN",
    "--3",
    "http://a b/c",
    "<x>",
    "}",
    "{",
    "]",
    "\x00",
    "\ud800",
    "é",
    "</",
    "&",
    "&bogus;",
    "<![CDATA[",
    "ZZZ",
]
DATE = re.compile(r"\d{4}-\d{2}-\d{2}(T[0-9:]+Z?)?")
NUMBER = re.compile(r"(?<![\w-])\d+(\.\d+)?(?![\w-])")
CLOSE_TAG = re.compile(r"</[A-Za-z]+>")


def _small_xml(text: str, keep: int = 2) -> str:
    """The B2MML export cut to its first ``keep`` responses, still well-formed (the full file is 900 kB)."""
    cut = [m.start() for m in re.finditer("<ProductionResponse>", text)][keep]
    return text[:cut] + "</ProductionPerformance>\n"


@pytest.fixture(scope="module")
def originals(demo_exports: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    texts = {name: (demo_exports / system / name).read_text() for system, name in TARGETS}
    texts["production-performance.xml"] = _small_xml(texts["production-performance.xml"])
    return texts


@pytest.fixture(scope="module", params=["disk", "memory"])
def thread_store(
    request: pytest.FixtureRequest,
    demo_exports: Path,
    tmp_path_factory: pytest.TempPathFactory,
    originals: dict[str, str],
) -> Iterator[Store]:
    """PLM and ERP loaded, plus each target file as exported (so a bad file replaces a good batch)."""
    folder = tmp_path_factory.mktemp(f"fuzz-loader-{request.param}")
    store = open_store("memory:" if request.param == "memory" else str(folder / "store"))
    for system in ("plm", "erp"):
        load_files(store, system, [demo_exports / system], ingest_dir=INGEST)
    for system, name in TARGETS:
        if system not in ("plm", "erp"):
            load_files(store, system, [_write(folder / "good", system, name, originals[name])], ingest_dir=INGEST)
    yield store
    store.close()


def _write(folder: Path, system: str, name: str, text: str) -> Path:
    path = folder / system / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    return path


def _replace_one(draw: st.DrawFn, text: str, pattern: re.Pattern[str], new: str) -> str:
    found = list(pattern.finditer(text))
    if not found:
        return text
    match = draw(st.sampled_from(found))
    return text[: match.start()] + new + text[match.end() :]


@st.composite
def mutation(draw: st.DrawFn, text: str, name: str) -> str:
    for _ in range(draw(st.integers(1, 3))):
        lines = text.splitlines(keepends=True)
        kind = draw(st.sampled_from(["truncate", "splice", "bad-date", "bad-number", "bad-iri", "line", "structure"]))
        at = draw(st.integers(0, max(0, len(text) - 1)))
        if kind == "truncate":
            text = text[:at]
        elif kind == "splice":
            text = text[:at] + draw(st.sampled_from(NASTY)) + text[at + draw(st.integers(0, 3)) :]
        elif kind == "bad-date":
            text = _replace_one(draw, text, DATE, draw(st.sampled_from(["2024-13-45", "2024-02-30", "yesterday", ""])))
        elif kind == "bad-number":
            text = _replace_one(draw, text, NUMBER, draw(st.sampled_from(["1,5", "1.2.3", "1e", "-", "∞", "0x1F"])))
        elif kind == "bad-iri":  # identifiers become IRI templates' variables: break them for IRIs
            text = _replace_one(
                draw, text, re.compile(r"[A-Z]{2,4}-\d+"), draw(st.sampled_from(["a b", "<x>", "{}", '"']))
            )
        elif kind == "line" and len(lines) > 1:  # wrong column count / broken record / duplicated header
            i = draw(st.integers(1, len(lines) - 1))
            line = lines[i]
            line = draw(
                st.sampled_from(
                    [
                        line.replace(",", "", 1),
                        line.rstrip("\n") + ",extra\n",
                        lines[0],
                        '"' + line,
                        line[: len(line) // 2] + "\n",
                    ]
                )
            )
            lines[i] = line
            text = "".join(lines)
        elif kind == "structure":
            if name.endswith(".xml"):
                text = _replace_one(draw, text, CLOSE_TAG, draw(st.sampled_from(["", "</Wrong>", "<Open>"])))
            else:
                text = text.replace(draw(st.sampled_from(["{", "}", "[", "]", ":", '"'])), "", 1)
    return text


@st.composite
def broken_export(draw: st.DrawFn, originals: dict[str, str]) -> tuple[str, str, str]:
    system, name = draw(st.sampled_from(TARGETS))
    return system, name, draw(mutation(originals[name], name))


@settings(max_examples=15, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_malformed_exports_fail_loudly_and_leave_the_store_as_it_was(
    data: st.DataObject, thread_store: Store, originals: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    system, name, text = data.draw(broken_export(originals))
    folder = tmp_path_factory.mktemp("broken")
    before = thread_store.digest()
    try:
        load_files(thread_store, system, [_write(folder, system, name, text)], ingest_dir=INGEST)
    except IngestError as exc:
        message = str(exc)
        assert name in message, f"the error does not name the file: {message}"
        if isinstance(exc, SourceError):
            assert exc.locator, f"the error does not say where in {name}: {message}"
        assert thread_store.digest() == before, f"a failed load changed the store: {message}"
    else:  # the mutation kept the file valid: put the original back for the next example
        load_files(thread_store, system, [_write(folder / "restore", system, name, originals[name])], ingest_dir=INGEST)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize("text", ["", "\n"])
def test_regression_empty_csv_is_a_source_error(text: str, thread_store: Store, tmp_path: Path) -> None:
    """Found by the fuzzer: an empty CSV export (no header row) escaped as a bare KeyError from the mapper."""
    before = thread_store.digest()
    with pytest.raises(SourceError) as caught:
        load_files(thread_store, "plm", [_write(tmp_path, "plm", "parts.csv", text)], ingest_dir=INGEST)
    assert "parts.csv" in str(caught.value) and caught.value.locator == "row 1"
    assert thread_store.digest() == before
