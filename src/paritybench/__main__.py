import sys

from paritybench.cli import main

sys.exit(main())
