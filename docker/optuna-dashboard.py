"""optuna-dashboard on the storage URL in $OPTUNA_STORAGE, which never appears on a command line.

The dashboard reads its storage only from its arguments, and the URL holds the database
password: as an argument it would show in `ps` to every user of the host.
So this runs the image's own `optuna-dashboard` script in this process with the URL put into
sys.argv, which the kernel's copy of the command line (/proc/PID/cmdline) never sees.
The flags are those of the official image's entrypoint.
"""

import os
import runpy
import shutil
import sys

script = shutil.which("optuna-dashboard")
if script is None:
    sys.exit("optuna-dashboard is not installed in this image")
flags = ["--port", "8080", "--host", "0.0.0.0", "--server", "gunicorn"]
sys.argv = [script, *flags, os.environ["OPTUNA_STORAGE"]]
runpy.run_path(script, run_name="__main__")
