"""``python -m labcode``: la línea de órdenes (:mod:`labcode.cli`)."""

from labcode.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
