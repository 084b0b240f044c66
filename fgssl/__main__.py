"""``python -m fgssl`` is the ``fgssl`` command."""

from fgssl.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
