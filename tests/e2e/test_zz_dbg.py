from tests.e2e.test_request_queue import queue_template, queue
import json, traceback
def test_dbg(queue, monkeypatch):
    from moto.stepfunctions.parser.asl.component.state.exec import execute_state
    orig = execute_state.ExecutionState._from_error
    def fe(self, env, ex):
        traceback.print_exception(ex)
        return orig(self, env, ex)
    monkeypatch.setattr(execute_state.ExecutionState, "_from_error", fe)
    from tests.e2e.test_request_queue import submit, SECRET_IDS
    submit(queue, "a.csv", SECRET_IDS[:3])
    ex = queue.run("DeletionRequests/Batch", {}, timeout=240)
    assert 0
