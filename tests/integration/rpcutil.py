"""Shared helpers for the integration tests: generate the Python protobuf modules with
protoc at test time, start `vqdb serve` on a free loopback port, and stop it."""
import os
import re
import subprocess
import sys
import tempfile
import time

from vqcli import SRC, VQDB, vqdb  # noqa: F401  (re-exported for the tests)

PROTOC = os.environ.get("PROTOC", "protoc")
HEALTH_DIR = "/usr/share/grpc-proto"

_gen = tempfile.mkdtemp(prefix="vqdb-pb2-")
subprocess.check_call([PROTOC, "--python_out=" + _gen, "-I" + SRC, "proto/vqdb.proto"])
# The health proto is compiled under another Python package name: a top-level "grpc"
# package would shadow grpcio itself. Its proto package (the wire name) is unchanged.
os.makedirs(os.path.join(_gen, "vqhealth"))
with open(os.path.join(HEALTH_DIR, "grpc/health/v1/health.proto")) as f_in, \
        open(os.path.join(_gen, "vqhealth", "health.proto"), "w") as f_out:
    f_out.write(f_in.read())
subprocess.check_call([PROTOC, "--python_out=" + _gen, "-I" + _gen, "vqhealth/health.proto"])
sys.path.insert(0, _gen)

import grpc  # noqa: E402  (Debian's python3-grpcio: a client this project did not write)
from vqhealth import health_pb2  # noqa: E402
from proto import vqdb_pb2  # noqa: E402,F401

HEALTH = "/grpc.health.v1.Health/Check"


class Server:
    """A `vqdb serve` child process on 127.0.0.1 with an OS-chosen port, or on `listen`
    (e.g. unix:PATH) when given."""

    def __init__(self, *args, data=None, listen=None):
        self.data = data or tempfile.mkdtemp(prefix="vqdb-data-")
        cmd = [VQDB, "serve", "--data", self.data, "--listen", listen or "127.0.0.1:0", *args]
        # The log goes to a file, not a pipe: a test that provokes thousands of error lines
        # would otherwise fill a pipe nobody reads and stall the server's workers.
        fd, self._log = tempfile.mkstemp(prefix="vqdb-serve-", suffix=".log")
        with os.fdopen(fd, "w") as f:
            self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=f, text=True)
        line = self.proc.stdout.readline()
        m = re.search(r"port (\d+)", line)
        if not m:
            self.proc.wait(timeout=30)
            raise RuntimeError("server did not start: %r %r" % (line, self.log()))
        self.port = int(m.group(1))
        self.addr = listen if listen else "127.0.0.1:%d" % self.port

    def channel(self, creds=None, options=None):
        if creds is None:
            return grpc.insecure_channel(self.addr, options=options)
        return grpc.secure_channel(self.addr, creds, options=options)

    def stop(self, sig=15, timeout=30):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
        self.stderr = self.log()
        self.proc.stdout.close()
        os.unlink(self._log)
        return rc

    def log(self):
        """What the server has written to stderr so far (read through a file description of
        its own, so the server's write offset is never moved)."""
        with open(self._log) as f:
            return f.read()


def unary(channel, path, req, resp_cls, **kw):
    fn = channel.unary_unary(path, request_serializer=lambda m: m.SerializeToString(),
                             response_deserializer=resp_cls.FromString)
    return fn(req, **kw)


def health(channel, service="", **kw):
    return unary(channel, HEALTH, health_pb2.HealthCheckRequest(service=service),
                 health_pb2.HealthCheckResponse, **kw)


def wait_port(addr, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with grpc.insecure_channel(addr) as ch:
                grpc.channel_ready_future(ch).result(timeout=1)
                return
        except grpc.FutureTimeoutError:
            pass
    raise RuntimeError("server at %s not ready" % addr)
