"""The tests depend on Debian's python3-pycurl and python3-requests only. If the python3 on PATH
is another interpreter (pyenv, a venv) without them, the script runs again under
/usr/bin/python3. Checked with importlib's finder, so a bench that never imports them pays
nothing."""

import importlib.util
import os
import sys

DEBIAN_PYTHON = "/usr/bin/python3"


def reexec_if_needed():
    if importlib.util.find_spec("pycurl") and importlib.util.find_spec("requests"):
        return
    if os.environ.get("DLPROXY_TEST_REEXEC") or not os.path.exists(DEBIAN_PYTHON) or \
            os.path.realpath(sys.executable) == os.path.realpath(DEBIAN_PYTHON):
        return
    os.environ["DLPROXY_TEST_REEXEC"] = "1"
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if spec is not None and spec.name:
        argv = [DEBIAN_PYTHON, "-m", spec.name.removesuffix(".__main__")] + sys.argv[1:]
    else:
        argv = [DEBIAN_PYTHON] + sys.argv
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(DEBIAN_PYTHON, argv)
