import sys

from mlinfer.cli.main import main

sys.exit(main())
