"""Small helpers the benchmarks share: the library's own (standard library only: the browser
benchmarks load no torch)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from chargen.stats import pct  # noqa: E402,F401
