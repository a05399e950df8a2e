"""The gRPC server core, driven by Debian's python3-grpcio: health, unknown methods,
bearer-token auth, TLS with a generated self-signed certificate, the message-size limit,
concurrent calls, and graceful shutdown on SIGTERM."""
import os
import subprocess
import tempfile
import threading
import unittest

import rpcutil
from rpcutil import grpc, health, health_pb2, Server, unary

SERVING = health_pb2.HealthCheckResponse.SERVING


class ServerTest(unittest.TestCase):
    def test_health_and_unknown_method(self):
        s = Server()
        try:
            with s.channel() as ch:
                self.assertEqual(health(ch).status, SERVING)
                self.assertEqual(health(ch, "vqdb.v1.VectorDB").status, SERVING)
                with self.assertRaises(grpc.RpcError) as e:
                    health(ch, "no.such.Service")
                self.assertEqual(e.exception.code(), grpc.StatusCode.NOT_FOUND)
                with self.assertRaises(grpc.RpcError) as e:
                    unary(ch, "/vqdb.v1.Nope/Nothing", health_pb2.HealthCheckRequest(),
                          health_pb2.HealthCheckResponse)
                self.assertEqual(e.exception.code(), grpc.StatusCode.UNIMPLEMENTED)
                self.assertIn("/vqdb.v1.Nope/Nothing", e.exception.details())
        finally:
            self.assertEqual(s.stop(), 0)

    def test_bearer_token(self):
        tok = tempfile.NamedTemporaryFile("w", delete=False)
        tok.write("s3cret-token\n")
        tok.close()
        s = Server("--token-file", tok.name)
        try:
            with s.channel() as ch:
                # Health stays public so that orchestrators can probe without the token.
                self.assertEqual(health(ch).status, SERVING)
                for md in [None, (("authorization", "Bearer wrong"),),
                           (("authorization", "s3cret-token"),)]:
                    with self.assertRaises(grpc.RpcError) as e:
                        unary(ch, "/vqdb.v1.VectorDB/ListCollections",
                              health_pb2.HealthCheckRequest(), health_pb2.HealthCheckResponse,
                              metadata=md)
                    self.assertEqual(e.exception.code(), grpc.StatusCode.UNAUTHENTICATED, md)
        finally:
            self.assertEqual(s.stop(), 0)
            os.unlink(tok.name)

    def test_tls(self):
        d = tempfile.mkdtemp()
        cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
        subprocess.check_call(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                               "-keyout", key, "-out", cert, "-days", "1", "-subj",
                               "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        s = Server("--tls-cert", cert, "--tls-key", key)
        try:
            with open(cert, "rb") as f:
                creds = grpc.ssl_channel_credentials(root_certificates=f.read())
            with s.channel(creds) as ch:
                self.assertEqual(health(ch, timeout=10).status, SERVING)
            # A plaintext client cannot talk to the TLS port.
            with s.channel() as ch:
                with self.assertRaises(grpc.RpcError) as e:
                    health(ch, timeout=3)
                self.assertIn(e.exception.code(), (grpc.StatusCode.UNAVAILABLE,
                                                   grpc.StatusCode.DEADLINE_EXCEEDED))
        finally:
            self.assertEqual(s.stop(), 0)

    def test_message_size_limit(self):
        s = Server("--max-message-bytes", "4096")
        try:
            with s.channel() as ch:
                with self.assertRaises(grpc.RpcError) as e:
                    health(ch, "x" * 10000)
                self.assertEqual(e.exception.code(), grpc.StatusCode.RESOURCE_EXHAUSTED)
                self.assertIn("4096", e.exception.details())
                self.assertEqual(health(ch).status, SERVING)  # the server is still fine
        finally:
            self.assertEqual(s.stop(), 0)

    def test_concurrent_calls_and_graceful_shutdown(self):
        s = Server("--threads", "4")
        errors = []

        def client():
            try:
                with s.channel() as ch:
                    for _ in range(50):
                        if health(ch, timeout=10).status != SERVING:
                            errors.append("not serving")
            except grpc.RpcError as e:
                errors.append(e.code())

        threads = [threading.Thread(target=client) for _ in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        self.assertEqual(s.stop(), 0)
        self.assertIn('"event":"stopped"', s.stderr)
        # After the stop, nothing listens there any more.
        with grpc.insecure_channel(s.addr) as ch:
            with self.assertRaises(grpc.RpcError) as e:
                health(ch, timeout=2)
            self.assertIn(e.exception.code(), (grpc.StatusCode.UNAVAILABLE,
                                               grpc.StatusCode.DEADLINE_EXCEEDED))

    def test_unix_socket(self):
        # A same-host client (a RAG pipeline beside the server) can skip TCP: gRPC core
        # listens on unix:PATH; auth still applies there.
        d = tempfile.mkdtemp()
        sock = os.path.join(d, "vqdb.sock")
        tok = os.path.join(d, "token")
        with open(tok, "w") as f:
            f.write("uds-token\n")
        s = Server("--token-file", tok, listen="unix:" + sock)
        try:
            self.assertTrue(os.path.exists(sock))
            pb = rpcutil.vqdb_pb2
            md = (("authorization", "Bearer uds-token"),)
            with s.channel() as ch:
                self.assertEqual(health(ch).status, SERVING)
                with self.assertRaises(grpc.RpcError) as e:
                    unary(ch, "/vqdb.v1.VectorDB/ListCollections", pb.ListCollectionsRequest(),
                          pb.ListCollectionsResponse)
                self.assertEqual(e.exception.code(), grpc.StatusCode.UNAUTHENTICATED)
                unary(ch, "/vqdb.v1.VectorDB/CreateCollection",
                      pb.CreateCollectionRequest(schema=pb.CollectionSchema(
                          name="u", dimension=4, metric=pb.L2, index_spec="flat/f32")),
                      pb.CreateCollectionResponse, metadata=md)
                r = unary(ch, "/vqdb.v1.VectorDB/ListCollections", pb.ListCollectionsRequest(),
                          pb.ListCollectionsResponse, metadata=md)
                self.assertEqual([c.schema.name for c in r.collections], ["u"])
        finally:
            self.assertEqual(s.stop(), 0)

    def test_bad_options(self):
        r = subprocess.run([rpcutil.VQDB, "serve", "--threads", "0", "--listen", "127.0.0.1:0"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 1)
        self.assertIn("threads", r.stderr)
        r = subprocess.run([rpcutil.VQDB, "serve", "--tls-cert", "/nonexistent",
                            "--listen", "127.0.0.1:0"], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 1)
        self.assertIn("tls", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
