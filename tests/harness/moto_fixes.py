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
"""

from __future__ import annotations

import contextlib
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
