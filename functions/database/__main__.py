import sys

from functions.database.upgrade import main

sys.exit(main())
