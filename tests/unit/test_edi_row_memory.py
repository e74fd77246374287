"""What an EDI row costs at the parse's peak, proven in a child whose address space is capped by the row.

An 852 that spreads every quantity over ten stores yields a row per ten bytes or so, so what its parse holds is
its rows. Assembled as a Python object per row they took about 950 bytes of address space each at the peak (a
16 MiB 852 then needed 1.5 GB); kept in typed columns until the file is done they take under 200. The child
imports the parser, parses a small file once (so every lazy import is done), then caps its address space at what
it holds plus :data:`BYTES_PER_ROW` per row of the file and parses it: the object-per-row assembly ran out of
memory there (crawling on near the cap), the columns finish with room to spare (about 150 bytes a row here).
``benchmarks/parser_memory.py`` measures the full 16 MiB file.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from benchmarks.parser_memory import STORES, write_x12

BYTES_PER_ROW = 400
FILE_BYTES = 1 << 19  # 48,000 rows

CHILD = """
import json, resource, sys
from pathlib import Path
from assets.feeds.parsers.x12 import parse_x12
from assets.feeds.partner_config import FileSpec
spec = FileSpec(record_type="sales", pattern="*.x12", format="x12")
parse_x12(Path(sys.argv[2]), spec, "p", "f")
status = lambda: dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines() if ":" in line)
held = int(status()["VmSize"].split()[0]) * 1024
cap = held + int(sys.argv[3]) * int(sys.argv[4])
resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
try:
    parsed = parse_x12(Path(sys.argv[1]), spec, "p", "f")
except MemoryError:
    print(json.dumps({"memory_error": True}))
    raise SystemExit(0)
peak = int(status()["VmPeak"].split()[0]) * 1024
rows = parsed.rows_parsed
print(json.dumps({"rows": rows, "rejected": parsed.rows_rejected, "bytes_per_row": (peak - held) / rows,
                  "loaded_sum": parsed.account.loaded, "sales": len(parsed.results["sales"].rows)}))
"""


def test_a_row_dense_852_parses_within_a_few_hundred_bytes_a_row(tmp_path):
    dense, warm_up = tmp_path / "dense.x12", tmp_path / "warm_up.x12"
    write_x12(dense, FILE_BYTES)
    write_x12(warm_up, 8192)  # one transaction set
    text = dense.read_text()
    items = text.count("~\nLIN*")
    rows = items * 2 * len(STORES)  # each item: sold (QS) and on hand (QA) at every store, a row each
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(dense), str(warm_up), str(rows), str(BYTES_PER_ROW)],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        timeout=60,  # the object-per-row assembly, near the cap, crawled on past it
    )
    assert child.returncode == 0, child.stderr[-2000:]
    result = json.loads(child.stdout)
    assert "memory_error" not in result, f"{rows} rows did not fit in {BYTES_PER_ROW} bytes each"
    assert (result["rows"], result["rejected"], result["sales"]) == (rows, 0, rows // 2)
    spread = [line.split("*")[4::2] for line in text.split("~\n") if line.startswith("SDQ*")]
    assert result["loaded_sum"] == sum(int(quantity) for quantities in spread for quantity in quantities)
    assert result["bytes_per_row"] < BYTES_PER_ROW
