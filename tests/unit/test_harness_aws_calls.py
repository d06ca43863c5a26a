"""The harness's call recorder sees the calls a handler's own thread pool makes (and only the handler's)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import boto3
from botocore.stub import Stubber

from tests.harness.aws_calls import Recorder


def _client(recorder: Recorder):
    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")
    client = session.client("s3")
    recorder.install(client.meta.events)
    return client


def test_calls_from_a_handlers_thread_pool_are_recorded_as_the_handlers():
    recorder = Recorder()
    client = _client(recorder)
    with Stubber(client) as stub:
        for key in ("a.csv", "b.csv", "c.csv"):
            stub.add_response("head_object", {"ContentLength": 1}, {"Bucket": "b", "Key": key})
        with recorder.invocation("ClaimFunction"):
            with ThreadPoolExecutor(max_workers=3) as pool:
                list(pool.map(lambda key: client.head_object(Bucket="b", Key=key), ["a.csv", "b.csv", "c.csv"]))
    recorder.uninstall()
    assert sorted((c.function, c.params["Key"]) for c in recorder.calls) == [
        ("ClaimFunction", "a.csv"), ("ClaimFunction", "b.csv"), ("ClaimFunction", "c.csv")]


def test_calls_from_other_threads_are_not_attributed_to_the_running_handler():
    recorder = Recorder()
    client = _client(recorder)
    with Stubber(client) as stub:
        stub.add_response("head_object", {"ContentLength": 1}, {"Bucket": "b", "Key": "moto.csv"})
        with recorder.invocation("ClaimFunction"):
            outside = threading.Thread(target=lambda: client.head_object(Bucket="b", Key="moto.csv"))
            outside.start()
            outside.join()
    recorder.uninstall()
    assert recorder.calls == []
