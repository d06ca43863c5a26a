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
