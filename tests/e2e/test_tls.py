"""`muonpipe serve --tls-cert --tls-key`: the same API over HTTPS, verified by boto3 against the
server's certificate."""

import shutil
import tempfile
import unittest

from harness import Server, self_signed_cert


class TlsTest(unittest.TestCase):
    def setUp(self):
        self.workdir = tempfile.mkdtemp(prefix="muonpipe-e2e-tls-")
        self.addCleanup(shutil.rmtree, self.workdir, True)
        self.server = Server(self.workdir, tls=self_signed_cert(self.workdir))
        self.server.start()
        self.addCleanup(lambda: self.assertEqual(self.server.terminate(), 0))

    def test_put_and_get_over_https(self):
        self.assertTrue(self.server.endpoint.startswith("https://"))
        k = self.server.client()
        k.create_stream(StreamName="tls", ShardCount=1)
        put = k.put_record(StreamName="tls", Data=b"over tls", PartitionKey="MD-0001")
        it = k.get_shard_iterator(StreamName="tls", ShardId=put["ShardId"],
                                  ShardIteratorType="AT_SEQUENCE_NUMBER",
                                  StartingSequenceNumber=put["SequenceNumber"])["ShardIterator"]
        self.assertEqual(k.get_records(ShardIterator=it)["Records"][0]["Data"], b"over tls")

    def test_plain_http_to_the_tls_port_gets_no_answer(self):
        import urllib.request
        with self.assertRaises(Exception):
            urllib.request.urlopen(self.server.endpoint.replace("https://", "http://") +
                                   "/_muonpipe/health", timeout=5).read()


if __name__ == "__main__":
    unittest.main()
