import sys

from hessfit.cli import main

sys.exit(main())
