import sys

from protoecg.cli import main

sys.exit(main())
