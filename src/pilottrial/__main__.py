"""``python -m pilottrial``: the ``pilottrial`` command (:mod:`pilottrial.cli.main`)."""

from pilottrial.cli.main import main

if __name__ == "__main__":
    raise SystemExit(main())
