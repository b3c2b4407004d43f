from swingtrader.cli import main

raise SystemExit(main())
