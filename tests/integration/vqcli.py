"""The vqdb binary under test and a helper that runs it (shared by the integration tests;
rpcutil re-exports both)."""
import os
import subprocess

SRC = os.environ.get("VQ_SOURCE_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                   "..", ".."))
VQDB = os.environ.get("VQDB_BIN", os.path.join(SRC, "build", "vqdb"))


def vqdb(*args, ok=True, timeout=600):
    """Runs the vqdb CLI; with ok, a non-zero exit fails with its stderr."""
    p = subprocess.run([VQDB] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=timeout)
    if ok and p.returncode != 0:
        raise AssertionError("vqdb %s failed (%d): %s" % (" ".join(args), p.returncode, p.stderr))
    return p
