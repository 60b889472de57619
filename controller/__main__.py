"""`python -m controller` is `hallctl`."""

from controller.cli import main

raise SystemExit(main())
