"""Makes a stage command stop at a point the test chose, so the test can SIGKILL it there.

Python imports this module at start-up when this folder is on ``PYTHONPATH``. In a DVC
stage command (``$DVC_STAGE`` set; not in ``dvc`` itself) whose environment names
``FAULTS_PAUSE_AT``, the ``os.replace`` that would put a file matching that glob (relative
to the project root) in place writes ``$FAULTS_PAUSED`` and waits instead, forever: the
file's content is complete in its temporary file, and nothing is in place yet. A test
that dies without killing it leaves it waiting for ten minutes at most.
"""

import fnmatch
import os
import time

_PATTERN = os.environ.get("FAULTS_PAUSE_AT")
if _PATTERN and os.environ.get("DVC_STAGE"):
    _real_replace = os.replace

    def _replace_or_pause(src, dst, *args, **kwargs):
        if fnmatch.fnmatch(os.path.relpath(os.fspath(dst)), _PATTERN):
            _write_marker(f"{os.getpid()} {os.environ['DVC_STAGE']} {dst}\n")
            time.sleep(600)
            os._exit(99)
        return _real_replace(src, dst, *args, **kwargs)

    def _write_marker(text):
        # Put in place whole: the test kills this process as soon as the marker exists,
        # and a marker created by open() but not yet written would be read empty.
        paused = os.environ["FAULTS_PAUSED"]
        with open(f"{paused}.tmp", "w") as marker:
            marker.write(text)
        _real_replace(f"{paused}.tmp", paused)

    os.replace = _replace_or_pause
