"""The gRPC server core, driven by Debian's python3-grpcio: health, unknown methods,
bearer-token auth, TLS with a generated self-signed certificate, the message-size limit,
concurrent calls, graceful shutdown on SIGTERM (also with calls in flight: they finish, new
calls get UNAVAILABLE), and a Unix-socket listener."""
import os
import random
import signal
import subprocess
import tempfile
import threading
import time
import unittest

import rpcutil
from rpcutil import grpc, health, health_pb2, Server, unary, vqdb

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

    def test_shutdown_with_calls_in_flight(self):
        # SIGTERM while two long SearchBatch calls run (1,024 exact scans of 30,000 x 512
        # each, over a second on this 2-core VM): both complete with every result, a call
        # made after the signal is refused with UNAVAILABLE, and the server exits 0 even
        # though Server.stop() sends a second SIGTERM while it is still shutting down.
        tmp = tempfile.TemporaryDirectory()  # ~190 MB of vectors and RocksDB: removed after
        self.addCleanup(tmp.cleanup)
        x, db = os.path.join(tmp.name, "x.fvecs"), os.path.join(tmp.name, "db")
        vqdb("gen", "--n", "30000", "--d", "512", "--seed", "9", "--out", x)
        vqdb("collection", "create", "--data", db, "--name", "big", "--dim", "512", "--index",
             "flat/f32")
        vqdb("upsert", "--data", db, "--collection", "big", "--vectors", x)
        pb = rpcutil.vqdb_pb2
        rng = random.Random(2)
        batch = pb.SearchBatchRequest(collection="big", searches=[
            pb.SearchRequest(vector=[rng.uniform(-1, 1) for _ in range(512)], k=10)
            for _ in range(1024)])
        s = Server("--threads", "4", "--grace", "300", data=db)
        results, ended, failed = [], [], []

        def client():
            try:
                with s.channel() as ch:
                    r = unary(ch, "/vqdb.v1.VectorDB/SearchBatch", batch, pb.SearchBatchResponse,
                              timeout=600)
                ended.append(time.time())
                results.append(r)
            except grpc.RpcError as e:
                failed.append(e.code())

        try:
            with s.channel() as ch:  # the first call opens the collection
                first = pb.SearchRequest(collection="big", vector=batch.searches[0].vector, k=1)
                unary(ch, "/vqdb.v1.VectorDB/Search", first, pb.SearchResponse, timeout=600)
            threads = [threading.Thread(target=client) for _ in range(2)]
            for t in threads:
                t.start()
            time.sleep(0.15)
            signalled = time.time()
            s.proc.send_signal(signal.SIGTERM)
            time.sleep(0.2)
            with grpc.insecure_channel(s.addr) as ch:
                with self.assertRaises(grpc.RpcError) as e:
                    health(ch, timeout=5)
                self.assertEqual(e.exception.code(), grpc.StatusCode.UNAVAILABLE)
            for t in threads:
                t.join(timeout=600)
            self.assertEqual(failed, [])
            self.assertEqual(len(results), 2)
            # the calls were in flight when the signal came (else this test proves nothing)
            self.assertGreater(min(ended), signalled + 0.05)
            for r in results:
                self.assertEqual(len(r.responses), 1024)
                self.assertTrue(all(len(x.results) == 10 for x in r.responses))
        finally:
            self.assertEqual(s.stop(), 0)
        self.assertIn('"event":"stopped"', s.stderr)
        self.assertIn('"signal":15', s.stderr)

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
