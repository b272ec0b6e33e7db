from toss.sandbox.cli import main

raise SystemExit(main())
