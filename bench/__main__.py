"""`make bench`: runs every bench/bench_*.py module's main() in turn and prints their figures."""
from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def main() -> int:
    here = Path(__file__).parent
    names = sorted(m.name for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_"))
    if not names:
        print("no benchmarks found", file=sys.stderr)
        return 1
    failed = 0
    for name in names:
        print(f"== {name}", flush=True)
        mod = importlib.import_module(f"bench.{name}")
        rc = mod.main() if hasattr(mod, "main") else 0
        failed += 1 if rc else 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
