from videolstm.cli import main

raise SystemExit(main())
