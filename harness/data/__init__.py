"""Data shipped inside the package, found through importlib.resources so that a wheel, an
editable install and a source checkout all read the same files.

- `reference/`: published points of the paper's benchmarks (one CSV per benchmark, each row
  cited) and processor specifications (`processors.csv`, `processor_aliases.csv`);
- `recipes/`: the published training recipes of the zoo's networks, one TOML per benchmark;
- `suites/`: the sweep suites (`smoke`, `paper`, `zoo`) as TOML.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

# Installed packages are unpacked on disk (wheels, editable installs), so the data folder is a
# real directory; readers open files under it with ordinary paths.
DATA_DIR = Path(str(files(__name__)))
REFERENCE_DIR = DATA_DIR / "reference"
RECIPES_DIR = DATA_DIR / "recipes"
SUITES_DIR = DATA_DIR / "suites"
