"""``python -m itms.cli``."""

from itms.cli import main

raise SystemExit(main())
