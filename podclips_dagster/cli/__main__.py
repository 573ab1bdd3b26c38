import sys

from podclips_dagster.cli import main

sys.exit(main())
