"""``python -m tuning <verb>``: the tuning loop's command line."""

from __future__ import annotations

from tuning.cli import main


def run() -> None:
    """Console-script entry point."""
    raise SystemExit(main())


if __name__ == "__main__":
    run()
