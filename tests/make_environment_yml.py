"""Write environment.yml from requirements.lock, so conda users get exactly the same pins.

    python tests/make_environment_yml.py
"""

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main():
    pins = [line.strip() for line in (REPO / "requirements.lock").read_text().splitlines()
            if "==" in line and not line.startswith("#")]
    lines = ["# Conda environment for pilottrial: conda env create -f environment.yml",
             "# Generated from requirements.lock by tests/make_environment_yml.py (same pins; tested).",
             "name: pilottrial", "channels:", "  - conda-forge", "  - nodefaults", "dependencies:",
             "  - python=3.11", "  - pip", "  - pip:"]
    lines += [f"      - {pin}" for pin in pins] + ["      - -e ."]
    (REPO / "environment.yml").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
