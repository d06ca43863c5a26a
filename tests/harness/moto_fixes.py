"""Fixes for gaps in moto 5.2.5's ASL interpreter that the library's state machines reach.

- Optimised service integrations (``arn:aws:states:::<service>:<action>``, e.g.
  the deletion request queue's ``states:startExecution.sync:2``): moto's copy
  of the interpreter stubs out the two methods that turn the state's
  PascalCase parameters into the SDK's member names and the SDK's response
  back into Step Functions' PascalCase (LocalStack, where the code comes from,
  implements both with the service model). Without them every such task fails
  with ``States.Runtime`` (``KeyError: 'StateMachineArn'``). :func:`service_integrations`
  puts them back, from the botocore model, for the duration of a block.
- Its ``.sync`` tasks check the child execution every 0.5 s of real time;
  the block makes that 0.05 s.
- Executions running side by side (a Map over dataset groups starting one
  deletion workflow each): the interpreter creates a boto3 client for every
  Lambda and ``states:`` task and deep-copies the state machine on
  ``StartExecution``, both of which read all of ``os.environ``, while the
  in-process handlers set and remove their functions' variables. The read
  then fails now and then (``KeyError`` on a variable that just went away,
  reported as the task's error ``Exception``). :func:`under_invocation_lock`
  makes those steps wait for the Lambda invocation in progress (the
  harness's invocation lock, reentrant because a function may itself start
  an execution).
- DynamoDB ``Query`` on a table's own key: moto gathers every item of the
  table, sorts them all, then keeps those of the queried partition, so each
  query costs the whole table (the request ledger's refresh reads one
  request's items: a batch of 10,000 requests made that quadratic, hours of
  in-process time; on AWS a query reads its partition). :func:`partition_queries`
  hands moto's own query code just the queried partition's items; its
  matching, sorting, paging and filtering run unchanged, so the answer is the
  same (``tests/unit/test_moto_fixes.py`` compares them).
"""

from __future__ import annotations

import contextlib
import threading
from functools import lru_cache
from typing import Any, Iterator

import botocore.session
from botocore import xform_name


@lru_cache(maxsize=None)
def _operations(service: str) -> dict[str, Any]:
    model = botocore.session.get_session().get_service_model(service)
    return {xform_name(name): model.operation_model(name) for name in model.operation_names}


@contextlib.contextmanager
def service_integrations() -> Iterator[None]:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (
        StateTaskService,
    )

    def operation(task: Any, boto_service_name: str | None, service_action_name: str | None) -> Any:
        service = task._get_boto_service_name(boto_service_name=boto_service_name)
        action = task._get_boto_service_action(service_action_name=service_action_name)
        return _operations(service).get(action)

    def normalise_parameters(self: Any, parameters: dict, boto_service_name: str | None = None,
                             service_action_name: str | None = None) -> None:
        model = operation(self, boto_service_name, service_action_name)
        if model is not None and model.input_shape is not None:
            self._to_boto_request(parameters, model.input_shape)

    def normalise_response(self: Any, response: Any, boto_service_name: str | None = None,
                           service_action_name: str | None = None) -> None:
        model = operation(self, boto_service_name, service_action_name)
        if model is not None and model.output_shape is not None:
            self._from_boto_response(response, model.output_shape)

    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_callback

    saved = (StateTaskService._normalise_parameters, StateTaskService._normalise_response,
             state_task_service_callback._DELAY_SECONDS_SYNC_CONDITION_CHECK)
    StateTaskService._normalise_parameters = normalise_parameters
    StateTaskService._normalise_response = normalise_response
    # a .sync task checks its child every 0.5 s of real time; the child runs on the virtual clock in well under
    # that, so check more often (real seconds only: nothing in a workflow depends on this interval)
    state_task_service_callback._DELAY_SECONDS_SYNC_CONDITION_CHECK = 0.05
    try:
        yield
    finally:
        (StateTaskService._normalise_parameters, StateTaskService._normalise_response,
         state_task_service_callback._DELAY_SECONDS_SYNC_CONDITION_CHECK) = saved


@contextlib.contextmanager
def under_invocation_lock(lock: Any) -> Iterator[None]:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_sfn
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    def locked(function: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            with lock:
                return function(*args, **kwargs)

        return call

    patched = [(StepFunctionsParserBackend, "start_execution"), (lambda_eval_utils, "boto_client_for"),
               (state_task_service_sfn, "boto_client_for")]
    saved = [(owner, name, getattr(owner, name)) for owner, name in patched]
    for owner, name, original in saved:
        setattr(owner, name, locked(original))
    try:
        yield
    finally:
        for owner, name, original in saved:
            setattr(owner, name, original)


@contextlib.contextmanager
def partition_queries() -> Iterator[None]:
    from moto.dynamodb.models.table import Table

    scoped = threading.local()  # per thread: the handlers query from their own worker threads
    original_query, original_all_items = Table.query, Table.all_items

    def all_items(self: Any) -> list[Any]:
        narrowed = getattr(scoped, "items", None)
        if narrowed is not None and narrowed[0] is self:
            return narrowed[1]
        return original_all_items(self)

    def query(self: Any, *args: Any, **kwargs: Any) -> Any:
        # moto's backend passes (hash_key, range_comparison, range_objs, limit, exclusive_start_key,
        # scan_index_forward, projection_expressions, index_name, ...) positionally
        hash_key = args[0] if args else kwargs.get("hash_key")
        index_name = args[7] if len(args) > 7 else kwargs.get("index_name")
        if index_name or hash_key is None or getattr(scoped, "items", None) is not None:
            return original_query(self, *args, **kwargs)
        partition = self.items.get(hash_key)  # .get: the table's defaultdict must not grow an empty partition
        if partition is None:
            items: list[Any] = []
        elif self.range_key_attr:
            items = list(partition.values())
        else:
            items = [partition]
        scoped.items = (self, items)
        try:
            return original_query(self, *args, **kwargs)
        finally:
            scoped.items = None

    Table.query, Table.all_items = query, all_items
    try:
        yield
    finally:
        Table.query, Table.all_items = original_query, original_all_items
