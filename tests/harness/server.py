"""The local AWS emulator: moto's server on 127.0.0.1, made to run what is deployed into it.

    python -m tests.harness.server --state-dir .local [--port 0] [--parent-pid PID]

Started by ``tests/harness/local_deploy.py`` (``make local``, ``make local-up``)
and by the deploy tier (``tests/deploy``). What it adds to a plain ``moto_server``,
all before the socket accepts its first request:

- Step Functions executes: ``execute_state_machine`` is on, and
  ``moto.stepfunctions.models.stepfunctions_backends`` points at the executing
  backend, so machines created by CloudFormation are the ones that run.
- Lambda runs the deployed code: ``LambdaSimpleBackend.invoke`` unzips the
  function's deployed package (cached per code hash), imports its handler from
  there (modules such as ``jobkit`` come from that package, never from the
  source tree), applies the function's environment and calls it. Exceptions
  come back as a Lambda function error, as in ``local.py``.
- Personalize data deletion and Clean Rooms ML (which moto lacks) are answered
  inside this process by the same fakes the tests use (``fakes.py``), hooked on
  boto3's default session; the handlers' other calls (S3...) reach this server
  through ``AWS_ENDPOINT_URL``. Every call the handlers make is recorded in
  ``<state-dir>/aws-calls.jsonl`` for the IAM evaluation (``aws_calls.py``).
- Time is virtual (``clock.py``): Wait states and Retry back-off advance it,
  and the handlers (``jobkit.clock.now``) and the fakes read it; it also moves
  with real time, so executions started by hand see a plausible clock.
- moto gaps filled for what CDK templates use: custom resources (moto would
  run their provider in Docker; :class:`CustomResources`), resource types and
  properties moto's CloudFormation ignores (:func:`install_cloudformation_gaps`),
  EventBridge delivery to Lambda and Step Functions status-change events
  (:func:`install_event_delivery`). Each is logged at start-up.
- Loopback only: the socket binds 127.0.0.1, and an audit hook refuses any
  connection or name look-up outside loopback from this process.

A control endpoint under ``/_local/`` (not an AWS API; bucket names cannot
start with ``_``) lets the runner and the tests read the clock and the fakes'
calls, and script the fakes (``POST /_local/plan``).

The state file ``<state-dir>/server.json`` (pid, port, endpoint) appears once
the server accepts requests and is removed when it stops (SIGTERM/SIGINT, or
the parent process going away when ``--parent-pid`` is given).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib
import io
import ipaddress
import json
import logging
import os
import shutil
import signal
import sys
import threading
import time
import uuid
import zipfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

HOST = "127.0.0.1"
ACCOUNT = "123456789012"
REGION = "us-east-1"
STATE_FILE = "server.json"
#: Every AWS call the deployed handlers make, one JSON line each (tests/harness/aws_calls.py), in the state dir.
AWS_CALLS_FILE = "aws-calls.jsonl"
CONTROL_PREFIX = "/_local/"
#: The Clean Rooms ML audience generation job the fake has ready (ACTIVE; its model's bins include 5000).
GENERATION_JOB_ID = "local-audience"
SIZE_BINS = [1000, 5000, 10000]
#: The models the fake Personalize has in the first dataset group (the sample app's ``retrainSolutionArns`` names
#: the solution): an ACTIVE solution version serving a campaign; ``POST /_local/training`` starts a training.
SHOP_GROUP_NAME, NEWS_GROUP_NAME = "local-shop", "local-news"
SOLUTION_NAME, CAMPAIGN_NAME = "local-recs", "local-recs-live"
TRAINING_MINUTES = 30
#: Realistic job lengths on the virtual clock.
DELETION_MINUTES = 40
EXPORT_MINUTES = 15

log = logging.getLogger("local-emulator")


# ---- isolation ------------------------------------------------------------------------------
def isolated_environment(state_dir: Path, port: int | None = None) -> dict[str, str]:
    """Variables that keep a process off real AWS: dummy credentials, empty config files,
    no instance metadata, and (with ``port``) every SDK endpoint on the emulator."""
    config = state_dir / "aws-config"
    for name in ("config", "credentials"):
        (config / name).parent.mkdir(parents=True, exist_ok=True)
        (config / name).touch()
    env = {
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION,
        "AWS_CONFIG_FILE": str(config / "config"), "AWS_SHARED_CREDENTIALS_FILE": str(config / "credentials"),
        "AWS_EC2_METADATA_DISABLED": "true", "AWS_PAGER": "",
    }
    if port is not None:
        env["AWS_ENDPOINT_URL"] = f"http://{HOST}:{port}"
    return env


#: Variables that could point a process at a real account or a real endpoint.
FORBIDDEN_VARIABLES = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE",
                       "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                       "AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_CA_BUNDLE",
                       "AWS_ENDPOINT_URL_S3", "AWS_STS_REGIONAL_ENDPOINTS", "HTTPS_PROXY", "HTTP_PROXY",
                       "https_proxy", "http_proxy")


def _loopback_only() -> None:
    """Refuse, in this process, every connection and name look-up that would leave loopback."""

    def loopback(host: Any) -> bool:
        if host is None:
            return True
        host = host.decode() if isinstance(host, bytes) else str(host)
        if host in ("localhost", "") or host.endswith(".localhost"):
            return True
        try:
            return ipaddress.ip_address(host.split("%")[0]).is_loopback
        except ValueError:
            return False

    def hook(event: str, args: tuple) -> None:
        if event == "socket.connect":
            address = args[1]
            if isinstance(address, tuple) and not loopback(address[0]):
                raise ConnectionRefusedError(f"local emulator: refusing a connection to {address[0]} (not loopback)")
        elif event == "socket.getaddrinfo":
            if not loopback(args[0]):
                raise OSError(f"local emulator: refusing to resolve {args[0]!r} (not loopback)")

    sys.addaudithook(hook)


# ---- Lambda: the deployed code, in-process ----------------------------------------------------
class DeployedFunctions:
    """Runs the deployed Lambda packages in this process.

    One invocation at a time (like ``local.py``): the environment, ``sys.modules`` and the
    clock binding are process-wide. Asynchronous invocations (EventBridge targets) queue on
    their own threads; a handler that synchronously invoked another function would wait for
    itself (none of the library's does).
    """

    def __init__(self, cache_dir: Path, clock: Any, recorder: Any) -> None:
        self.cache_dir, self.clock, self.recorder = cache_dir, clock, recorder
        self.lock = threading.RLock()
        self.active: str | None = None
        self.invocations: list[dict[str, Any]] = []
        self.pending = 0  # asynchronous invocations not finished yet
        self._pending_lock = threading.Lock()  # not self.lock: a running handler may cause an async invocation

    def code_dir(self, function: Any) -> str:
        digest = hashlib.sha256(function.code_bytes).hexdigest()[:20]
        target = self.cache_dir / digest
        if not target.is_dir():
            staging = self.cache_dir / f".{digest}.{uuid.uuid4().hex}"
            staging.mkdir(parents=True)
            with zipfile.ZipFile(io.BytesIO(function.code_bytes)) as archive:
                archive.extractall(staging)
            staging.rename(target)
        return str(target)

    def _activate(self, code_dir: str) -> None:
        """Make ``code_dir`` the only source of the package's modules."""
        from .lambda_runtime import bind_jobkit, forget_modules

        if self.active == code_dir:
            return
        if self.active is not None:
            sys.path[:] = [p for p in sys.path if p != self.active]
            forget_modules(under=self.active)
        tops = {p.stem if p.suffix == ".py" else p.name for p in Path(code_dir).iterdir()
                if p.suffix == ".py" or (p / "__init__.py").is_file()}
        forget_modules(names=tops)  # same-named modules imported from anywhere else
        sys.path.insert(0, code_dir)
        importlib.invalidate_caches()
        self.active = code_dir
        if "jobkit" in tops:
            bind_jobkit(self.clock)

    def function_environment(self, function: Any, code_dir: str) -> dict[str, str]:
        return {
            **{k: str(v) for k, v in (function.environment_vars or {}).items()},
            "AWS_LAMBDA_FUNCTION_NAME": function.function_name, "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_size), "LAMBDA_TASK_ROOT": code_dir,
            "_HANDLER": function.handler or "", "AWS_EXECUTION_ENV": f"AWS_Lambda_{function.run_time}",
        }

    def invoke(self, function: Any, body: Any, response_headers: dict[str, str], asynchronous: bool = False) -> bytes:
        from .lambda_runtime import Context, call_handler, environ, error_payload

        event = json.loads(body) if body else {}
        started = time.monotonic()
        if not str(function.run_time or "").startswith("python"):
            response_headers["x-amz-function-error"] = "Unhandled"
            self._record(function, event, "Runtime.Unsupported", started)
            return error_payload("Runtime.Unsupported", f"the local emulator runs Python functions only, "
                                 f"not {function.run_time} ({function.function_name})")
        with self.lock:
            code_dir = self.code_dir(function)
            self._activate(code_dir)
            module_name, attribute = function.handler.rsplit(".", 1)
            with environ(self.function_environment(function, code_dir)):
                try:
                    module = importlib.import_module(module_name)
                    if not str(getattr(module, "__file__", "")).startswith(code_dir):
                        raise ImportError(f"{module_name} was not imported from the deployed package")
                    handler = getattr(module, attribute)
                except Exception as error:  # noqa: BLE001 - Lambda reports an import failure as a function error
                    failure = error

                    def handler(event: Any, context: Any) -> Any:
                        raise failure

                context = Context(function.function_name, function.function_arn, int(function.memory_size),
                                  int(function.timeout))
                with self.recorder.invocation(function.function_name, asynchronous):
                    outcome = call_handler(handler, event, context, response_headers)
        self._record(function, event, outcome.error, started)
        if outcome.error:
            log.info("%s: function error %s", function.function_name, outcome.error)
        return outcome.payload

    def invoke_async(self, function_arn: str, event: Any) -> None:
        """An asynchronous invocation (``InvocationType=Event``): runs on its own thread; a function
        error is logged (AWS would retry twice, then use the function's on-failure destination)."""
        from moto.awslambda.utils import get_backend

        account, region = function_arn.split(":")[4], function_arn.split(":")[3]
        function = get_backend(account, region).get_function(function_arn)
        with self._pending_lock:
            self.pending += 1

        def run() -> None:
            try:
                self.invoke(function, json.dumps(event), {}, asynchronous=True)
            except Exception:  # noqa: BLE001 - never kill the emulator
                log.exception("asynchronous invocation of %s failed", function_arn)
            finally:
                with self._pending_lock:
                    self.pending -= 1

        threading.Thread(target=run, name=f"async-{function.function_name}", daemon=True).start()

    def _record(self, function: Any, event: Any, error: str | None, started: float) -> None:
        self.invocations.append({"function": function.function_name, "error": error,
                                 "seconds": round(time.monotonic() - started, 4)})


# ---- CloudFormation: custom resources ---------------------------------------------------------
class CustomResources:
    """Custom resources without Docker.

    moto would run the provider function in a Docker container and wait for its
    answer. Here: a provider with a Python runtime runs its deployed code
    in-process (it answers to moto's ``cfnresponse`` URL); CDK's own Node.js
    providers are emulated by type (:attr:`EMULATED`); anything else fails the
    resource loudly. Deletes are delivered too (moto sends none).
    """

    def __init__(self, functions: DeployedFunctions, port_of: Callable[[], int]) -> None:
        self.functions, self.port_of = functions, port_of
        self.EMULATED: dict[str, Callable[[str, dict[str, Any], str, str], dict[str, Any]]] = {
            "Custom::S3AutoDeleteObjects": self._s3_auto_delete_objects,
        }

    def install(self) -> None:
        from moto.cloudformation.custom_model import CustomModel

        resources = self

        def create(cls: Any, resource_name: str, cloudformation_json: dict[str, Any], account_id: str,
                   region_name: str, **kwargs: Any) -> Any:
            return resources.create(resource_name, cloudformation_json, account_id, region_name, **kwargs)

        def delete(model: Any, account_id: str, region_name: str) -> None:
            resources.delete(model, account_id, region_name)

        CustomModel.create_from_cloudformation_json = classmethod(create)
        CustomModel.delete = delete

    def create(self, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str,
               **kwargs: Any) -> Any:
        from moto.cloudformation import cloudformation_backends
        from moto.cloudformation.custom_model import CustomModel

        properties = cloudformation_json["Properties"]
        model = CustomModel(region_name, str(uuid.uuid4()), kwargs["LogicalId"], resource_name)
        model.resource_type, model.properties, model.stack_id = kwargs["ResourceType"], properties, kwargs["StackId"]
        stack = cloudformation_backends[account_id][region_name].get_stack(model.stack_id)
        stack.add_custom_resource(model)
        self._deliver(model, "Create", account_id, region_name)
        return model

    def delete(self, model: Any, account_id: str, region_name: str) -> None:
        if not getattr(model, "resource_type", None):
            return
        try:
            self._deliver(model, "Delete", account_id, region_name)
        except (TypeError, AttributeError) as error:
            # moto would take these for "no delete method" and silently skip the resource
            raise RuntimeError(f"custom resource {model.logical_id}: delete failed: {error!r}") from error

    def _deliver(self, model: Any, request: str, account_id: str, region_name: str) -> None:
        emulated = self.EMULATED.get(model.resource_type)
        if emulated is not None:
            data = emulated(request, model.properties, account_id, region_name)
            log.info("custom resource %s (%s): %s emulated", model.logical_id, model.resource_type, request)
            if request == "Create":
                model.set_data(data)
            return
        from moto.awslambda.utils import get_backend

        function = get_backend(account_id, region_name).get_function(model.properties["ServiceToken"])
        if not str(function.run_time or "").startswith("python"):
            raise NotImplementedError(
                f"custom resource {model.logical_id} ({model.resource_type}): its provider runs on "
                f"{function.run_time}, which the local emulator cannot run; add an emulation to "
                "tests/harness/server.py CustomResources.EMULATED")
        event = {
            "RequestType": request, "ServiceToken": model.properties["ServiceToken"],
            "ResponseURL": f"http://{HOST}:{self.port_of()}/cloudformation_{region_name}/cfnresponse"
                           f"?stack={model.stack_id}",
            "StackId": model.stack_id, "RequestId": model.request_id, "LogicalResourceId": model.logical_id,
            "ResourceType": model.resource_type, "ResourceProperties": model.properties,
        }
        if request == "Delete":
            event["PhysicalResourceId"] = model.physical_resource_id
        # The provider answers through the ResponseURL, i.e. through this server: run it off the request thread.
        threading.Thread(target=self.functions.invoke, args=(function, json.dumps(event), {}), daemon=True).start()

    @staticmethod
    def _s3_auto_delete_objects(request: str, properties: dict[str, Any], account_id: str,
                                region_name: str) -> dict[str, Any]:
        """What CDK's auto-delete provider does: on Delete, empty the bucket (every version) if it is
        tagged ``aws-cdk:auto-delete-objects=true``; nothing otherwise."""
        if request != "Delete":
            return {}
        from moto.s3.exceptions import MissingBucket
        from moto.s3.models import s3_backends

        backend = s3_backends[account_id]["aws"]
        name = properties["BucketName"]
        try:
            bucket = backend.get_bucket(name)
        except MissingBucket:
            return {}
        tags = backend.get_bucket_tagging(name).get("Tags", [])
        if not any(t.get("Key") == "aws-cdk:auto-delete-objects" and t.get("Value") == "true" for t in tags):
            return {}
        for key in list(bucket.keys.keys()):
            for version in list(bucket.keys.getlist(key)):
                backend.delete_object(name, key, version_id=version.version_id, bypass=True)
            if key in bucket.keys:
                bucket.keys.pop(key)
        return {}


def install_cloudformation_gaps() -> list[str]:
    """Resource types moto 5.2.5's CloudFormation lacks or gets wrong; returns what was changed.

    - ``AWS::CloudWatch::Alarm``, ``AWS::SNS::TopicPolicy``, ``AWS::SQS::QueuePolicy``: created
      through the services' own backends (moto skips them with a warning).
    - ``AWS::Scheduler::Schedule`` (the request queue's batch schedule): moto 5.2.5's CloudFormation
      does not know the type; it warns and skips the resource (``Ref``/``GetAtt`` on it would then
      resolve to nothing). It is created in moto's own Scheduler backend, so the schedule can be read
      back (``scheduler:GetSchedule``); moto's Scheduler never fires a schedule, so batch runs are
      started by hand (input ``{}``), as the README describes.
    - ``AWS::CDK::Metadata``: nothing to create (silences moto's warning).
    - ``AWS::S3::Bucket`` create: versioning, lifecycle rules, access logging, public access
      block, ownership controls and EventBridge notifications (moto applies only encryption and
      tags); ``AWS::Lambda::Function``: architectures, tracing, ephemeral storage.
    - ``AWS::S3::Bucket`` delete: CloudFormation refuses to delete a bucket that still holds
      objects; moto silently keeps it and reports success. Raising instead lets moto retry after
      the bucket's auto-delete custom resource has emptied it (moto deletes in no dependency order).
    - ``AWS::S3::BucketPolicy`` is deliberately left out: moto's S3 enforces Deny statements
      without evaluating their conditions, so CDK's TLS-only statement would deny every request.
    """
    from moto.cloudformation import parsing

    alarm = _alarm_model()
    schedule = _schedule_model()
    topic_policy, queue_policy = _policy_attachment_models()
    if "AWS::CDK::Metadata" not in parsing.NULL_MODELS:
        parsing.NULL_MODELS.append("AWS::CDK::Metadata")
    _refuse_deleting_non_empty_buckets()
    _apply_ignored_bucket_properties()
    _apply_ignored_function_properties()
    parsing.get_model_map.cache_clear()
    parsing.get_name_type_map.cache_clear()
    return [alarm.cloudformation_type(), schedule.cloudformation_type() + " (recorded in moto's Scheduler; never fires)",
            topic_policy.cloudformation_type(), queue_policy.cloudformation_type(),
            "AWS::CDK::Metadata (no-op)", "AWS::S3::Bucket delete refuses a non-empty bucket",
            "AWS::S3::Bucket versioning, lifecycle, logging, public access block, ownership, EventBridge",
            "AWS::Lambda::Function architectures, tracing, ephemeral storage"]


class _NamedWithArn:
    """What the resources created through a service's own backend share: a name (the ``Ref``) and an ``Arn``
    (the only ``GetAtt``). A plain mixin, so moto's model registry never sees it as a resource type."""

    def __init__(self, name: str, arn: str) -> None:
        self.name, self.arn = name, arn

    @property
    def physical_resource_id(self) -> str:
        return self.name

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr == "Arn"

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        return self.arn


def _alarm_model() -> type:
    """``AWS::CloudWatch::Alarm`` through CloudWatch's own backend (moto's model metaclass registers
    the class when it is defined)."""
    from moto.core.common_models import CloudFormationModel

    def resolve_arns(values: list[Any] | None) -> list[str]:
        return [str(v) for v in values or []]

    # moto's model metaclass files each class under the service named in its module path
    class _Alarm(_NamedWithArn, CloudFormationModel):
        __module__ = "moto.cloudwatch.local_emulator"

        @staticmethod
        def cloudformation_name_type() -> str:
            return "AlarmName"

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::CloudWatch::Alarm"

        @classmethod
        def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: Any, account_id: str,
                                            region_name: str, **kwargs: Any) -> "_Alarm":
            from moto.cloudwatch.models import cloudwatch_backends

            p = cloudformation_json["Properties"]
            name = p.get("AlarmName") or resource_name
            alarm = cloudwatch_backends[account_id][region_name].put_metric_alarm(
                name=name, namespace=p.get("Namespace"), metric_name=p.get("MetricName"),
                comparison_operator=p["ComparisonOperator"], evaluation_periods=int(p["EvaluationPeriods"]),
                period=int(p["Period"]) if p.get("Period") else None, threshold=float(p.get("Threshold", 0)),
                statistic=p.get("Statistic"), description=p.get("AlarmDescription", ""),
                dimensions=[{"Name": d["Name"], "Value": d["Value"]} for d in p.get("Dimensions", [])],
                alarm_actions=resolve_arns(p.get("AlarmActions")), ok_actions=resolve_arns(p.get("OKActions")),
                insufficient_data_actions=resolve_arns(p.get("InsufficientDataActions")),
                datapoints_to_alarm=p.get("DatapointsToAlarm"), extended_statistic=p.get("ExtendedStatistic"),
                unit=p.get("Unit"), actions_enabled=str(p.get("ActionsEnabled", True)).lower() == "true",
                treat_missing_data=p.get("TreatMissingData"),
            )
            return cls(name, alarm.alarm_arn)

        def delete(self, account_id: str, region_name: str) -> None:
            from moto.cloudwatch.models import cloudwatch_backends

            cloudwatch_backends[account_id][region_name].delete_alarms([self.name])

    return _Alarm


def _schedule_model() -> type:
    """``AWS::Scheduler::Schedule`` through moto's Scheduler backend (recorded, never fired)."""
    from moto.core.common_models import CloudFormationModel

    class _Schedule(_NamedWithArn, CloudFormationModel):
        __module__ = "moto.scheduler.local_emulator"

        def __init__(self, name: str, group: str, arn: str) -> None:
            super().__init__(name, arn)
            self.group = group

        @staticmethod
        def cloudformation_name_type() -> str:
            return "Name"

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::Scheduler::Schedule"

        @classmethod
        def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: Any, account_id: str,
                                            region_name: str, **kwargs: Any) -> "_Schedule":
            from moto.scheduler.models import scheduler_backends

            p = cloudformation_json["Properties"]
            name = (p.get("Name") or resource_name)[:64]
            group = p.get("GroupName") or "default"
            target = {k: v for k, v in (p.get("Target") or {}).items()}
            created = scheduler_backends[account_id][region_name].create_schedule(
                description=p.get("Description"), end_date=p.get("EndDate"),
                flexible_time_window=p.get("FlexibleTimeWindow") or {"Mode": "OFF"}, group_name=group,
                kms_key_arn=p.get("KmsKeyArn"), name=name, schedule_expression=p["ScheduleExpression"],
                schedule_expression_timezone=p.get("ScheduleExpressionTimezone"), start_date=p.get("StartDate"),
                state=p.get("State") or "ENABLED", target=target, action_after_completion=None)
            return cls(name, group, created.arn)

        def delete(self, account_id: str, region_name: str) -> None:
            from moto.scheduler.models import scheduler_backends

            scheduler_backends[account_id][region_name].delete_schedule(self.group, self.name)

    return _Schedule


def _policy_attachment_models() -> tuple[type, type]:
    """``AWS::SNS::TopicPolicy`` and ``AWS::SQS::QueuePolicy``: the document stored on its targets."""
    from moto.core.common_models import CloudFormationModel

    class _PolicyAttachment:
        """A policy document attached to SNS topics or SQS queues (stored, as moto enforces neither).
        A mixin: moto finds models among the *direct* subclasses of CloudFormationModel."""

        def __init__(self, name: str, targets: list[str]) -> None:
            self.name, self.targets = name, targets

        @property
        def physical_resource_id(self) -> str:
            return self.name

        @staticmethod
        def cloudformation_name_type() -> str:
            return ""

        @classmethod
        def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: Any, account_id: str,
                                            region_name: str, **kwargs: Any) -> "_PolicyAttachment":
            p = cloudformation_json["Properties"]
            document = json.dumps(p["PolicyDocument"])
            targets = [str(t) for t in p.get("Topics", p.get("Queues", []))]
            for target in targets:
                cls.attach(account_id, region_name, target, document)
            return cls(resource_name, targets)

        @staticmethod
        def attach(account_id: str, region_name: str, target: str, document: str) -> None:
            raise NotImplementedError

    class _TopicPolicy(_PolicyAttachment, CloudFormationModel):
        __module__ = "moto.sns.local_emulator"

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::SNS::TopicPolicy"

        @staticmethod
        def attach(account_id: str, region_name: str, target: str, document: str) -> None:
            from moto.sns.models import sns_backends

            sns_backends[account_id][region_name].set_topic_attribute(target, "Policy", document)

    class _QueuePolicy(_PolicyAttachment, CloudFormationModel):
        __module__ = "moto.sqs.local_emulator"

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::SQS::QueuePolicy"

        @staticmethod
        def attach(account_id: str, region_name: str, target: str, document: str) -> None:
            from moto.sqs.models import sqs_backends

            sqs_backends[account_id][region_name].set_queue_attributes(target.rstrip("/").rsplit("/", 1)[-1],
                                                                       {"Policy": document})

    return _TopicPolicy, _QueuePolicy


def _refuse_deleting_non_empty_buckets() -> None:
    """CloudFormation refuses to delete a bucket that still holds objects (moto would keep it and
    report success); raising lets moto retry once the auto-delete custom resource has emptied it."""
    from moto.s3.models import FakeBucket, s3_backends

    original_delete = FakeBucket.delete_from_cloudformation_json.__func__

    def delete_bucket(cls: Any, resource_name: str, cloudformation_json: Any, account_id: str,
                      region_name: str) -> None:
        from moto.utilities.utils import get_partition

        backend = s3_backends[account_id][get_partition(region_name)]
        if resource_name in backend.buckets and backend.buckets[resource_name].keys:
            raise RuntimeError(f"The bucket you tried to delete is not empty: {resource_name}")
        original_delete(cls, resource_name, cloudformation_json, account_id, region_name)

    FakeBucket.delete_from_cloudformation_json = classmethod(delete_bucket)


def _apply_ignored_bucket_properties() -> None:
    """Bucket properties moto's CloudFormation ignores, applied on create."""
    from moto.s3.models import FakeBucket

    original_create_bucket = FakeBucket.create_from_cloudformation_json.__func__

    def create_bucket(cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str,
                      **kwargs: Any) -> Any:
        bucket = original_create_bucket(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        _apply_bucket_properties(bucket, cloudformation_json.get("Properties", {}))
        return bucket

    FakeBucket.create_from_cloudformation_json = classmethod(create_bucket)


def _apply_ignored_function_properties() -> None:
    """Function properties moto's CloudFormation ignores: architectures, tracing, ephemeral storage."""
    from moto.awslambda.models import LambdaFunction

    original_create_function = LambdaFunction.create_from_cloudformation_json.__func__

    def create_function(cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str,
                        **kwargs: Any) -> Any:
        function = original_create_function(cls, resource_name, cloudformation_json, account_id, region_name,
                                            **kwargs)
        p = cloudformation_json.get("Properties", {})
        function.architectures = p.get("Architectures", function.architectures)
        function.tracing_config = p.get("TracingConfig", function.tracing_config)
        function.ephemeral_storage = p.get("EphemeralStorage", {}).get("Size", function.ephemeral_storage)
        return function

    LambdaFunction.create_from_cloudformation_json = classmethod(create_function)


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """A CloudFormation lifecycle rule in the S3 API's shape (what moto's S3 backend reads)."""
    out: dict[str, Any] = {"ID": rule.get("Id"), "Status": rule["Status"]}
    out["Filter"] = {"Prefix": rule.get("Prefix", "")}
    if rule.get("TagFilters"):
        out["Filter"] = {"And": {"Prefix": rule.get("Prefix", ""),
                                 "Tag": [{"Key": t["Key"], "Value": t["Value"]} for t in rule["TagFilters"]]}}
    expiration = {}
    if "ExpirationInDays" in rule:
        expiration["Days"] = rule["ExpirationInDays"]
    if "ExpirationDate" in rule:
        expiration["Date"] = rule["ExpirationDate"]
    if "ExpiredObjectDeleteMarker" in rule:
        expiration["ExpiredObjectDeleteMarker"] = str(rule["ExpiredObjectDeleteMarker"]).lower()
    if expiration:
        out["Expiration"] = expiration
    for key in ("NoncurrentVersionExpiration", "AbortIncompleteMultipartUpload"):
        if key in rule:
            out[key] = dict(rule[key])
    if rule.get("Transitions"):
        out["Transition"] = [{"Days": t.get("TransitionInDays"), "Date": t.get("TransitionDate"),
                              "StorageClass": t["StorageClass"]} for t in rule["Transitions"]]
    if rule.get("NoncurrentVersionTransitions"):
        out["NoncurrentVersionTransition"] = [{"NoncurrentDays": t["TransitionInDays"], "StorageClass": t["StorageClass"]}
                                              for t in rule["NoncurrentVersionTransitions"]]
    return out


def _apply_bucket_properties(bucket: Any, p: dict[str, Any]) -> None:
    """The bucket properties moto's CloudFormation ignores (it applies only encryption and tags)."""
    if "VersioningConfiguration" in p:
        bucket.versioning_status = p["VersioningConfiguration"]["Status"]
    if "LifecycleConfiguration" in p:
        bucket.set_lifecycle([_lifecycle_rule(r) for r in p["LifecycleConfiguration"].get("Rules", [])])
    if "LoggingConfiguration" in p:
        # set directly: moto's PutBucketLogging insists on a log-delivery grant in the target's bucket policy,
        # which the emulator does not apply (see install_cloudformation_gaps)
        bucket.logging = {"TargetBucket": p["LoggingConfiguration"].get("DestinationBucketName"),
                          "TargetPrefix": p["LoggingConfiguration"].get("LogFilePrefix", "")}
    if "PublicAccessBlockConfiguration" in p:
        from moto.s3.models import PublicAccessBlock

        c = p["PublicAccessBlockConfiguration"]
        bucket.public_access_block = PublicAccessBlock(
            str(c.get("BlockPublicAcls", False)).lower(), str(c.get("IgnorePublicAcls", False)).lower(),
            str(c.get("BlockPublicPolicy", False)).lower(), str(c.get("RestrictPublicBuckets", False)).lower())
    rules = p.get("OwnershipControls", {}).get("Rules", [])
    if rules:
        bucket.ownership_rule = rules[0]["ObjectOwnership"]
    if p.get("NotificationConfiguration", {}).get("EventBridgeConfiguration", {}).get("EventBridgeEnabled"):
        bucket.set_notification_configuration({"EventBridgeConfiguration": {}})


def install_event_delivery(functions: DeployedFunctions) -> list[str]:
    """EventBridge and Step Functions as deployed code expects them; returns what was changed.

    - Rules deliver to Lambda targets (moto 5.2.5 raises NotImplementedError for them), as an
      asynchronous invocation of the deployed code (``Input`` / ``InputTransformer`` applied).
    - Step Functions emits "Step Functions Execution Status Change" events (RUNNING and the
      terminal status) on the default bus, in AWS's documented shape (moto emits none).
    - An execution started without a name gets a UUID (moto names it "None", so a second
      unnamed start would collide with the first).
    """
    _deliver_rules_to_lambda(functions)
    _emit_execution_status_changes()
    _name_unnamed_executions()
    return ["EventBridge rules deliver to Lambda targets (asynchronous invocation)",
            "Step Functions emits Execution Status Change events",
            "Step Functions names an execution started without a name with a UUID (moto: \"None\")"]




def _deliver_rules_to_lambda(functions: DeployedFunctions) -> None:
    """EventBridge rules deliver to Lambda targets as an asynchronous invocation of the deployed code
    (``Input`` / ``InputTransformer`` applied); other targets as moto does."""
    from moto.events.models import Rule
    from moto.events.utils import EventTemplateParser
    from moto.utilities.arns import parse_arn

    original_send = Rule.send_to_targets
    swap = threading.Lock()

    def send_to_targets(rule: Any, original_event: dict[str, Any], transform_input: bool = True) -> None:
        lambda_targets = [t for t in rule.targets if parse_arn(t["Arn"]).service == "lambda"]
        if not lambda_targets:
            return original_send(rule, original_event, transform_input)
        if not rule.event_pattern.matches_event(original_event):
            return None
        others = [t for t in rule.targets if t not in lambda_targets]
        if others:
            with swap:
                saved, rule.targets = rule.targets, others
                try:
                    original_send(rule, original_event, transform_input)
                finally:
                    rule.targets = saved
        for target in lambda_targets:
            event: Any = dict(original_event)
            if isinstance(event.get("time"), (int, float)):
                event["time"] = datetime.fromtimestamp(event["time"], timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            if "Input" in target:
                event = json.loads(target["Input"])
            elif transform_input and target.get("InputTransformer"):
                transformer = target["InputTransformer"]
                event = EventTemplateParser.parse(input_template=transformer.get("InputTemplate"),
                                                  input_paths_map=transformer.get("InputPathsMap", {}),
                                                  event=event)
            functions.invoke_async(target["Arn"], event)
        return None

    Rule.send_to_targets = send_to_targets


def _emit_execution_status_changes() -> None:
    """Step Functions puts "Step Functions Execution Status Change" events (RUNNING and the terminal
    status) on the default bus, in AWS's documented shape."""
    from moto.events.models import events_backends
    from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication, Execution

    def status_change(execution: Any) -> None:
        def millis(value: Any) -> int | None:
            return int(value.timestamp() * 1000) if isinstance(value, datetime) else None

        status = execution.exec_status.value if execution.exec_status else "RUNNING"
        detail = {
            "executionArn": execution.exec_arn, "stateMachineArn": execution.state_machine_arn,
            "name": execution.name, "status": status, "startDate": millis(execution.start_date),
            "stopDate": millis(execution.stop_date), "input": json.dumps(execution.input_data),
            "output": execution.output if execution.output is None or isinstance(execution.output, str)
            else json.dumps(execution.output),
            "inputDetails": {"included": True}, "outputDetails": {"included": True},
            "error": execution.error, "cause": execution.cause,
        }
        try:
            events_backends[execution.account_id][execution.region_name].put_events([{
                "Source": "aws.states", "DetailType": "Step Functions Execution Status Change",
                "Detail": json.dumps(detail), "Resources": [execution.exec_arn],
            }])
        except Exception:  # noqa: BLE001 - like AWS, a delivery problem never affects the execution
            log.exception("could not deliver the status change of %s", execution.exec_arn)

    original_start, original_terminated = Execution.start, BaseExecutionWorkerCommunication.terminated

    def start(execution: Any) -> None:
        original_start(execution)
        status_change(execution)

    def terminated(comm: Any) -> None:
        original_terminated(comm)
        status_change(comm.execution)

    Execution.start = start
    BaseExecutionWorkerCommunication.terminated = terminated


def _name_unnamed_executions() -> None:
    """An execution started without a name gets a UUID (moto would name every one "None")."""
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    original_start_execution = StepFunctionsParserBackend.start_execution

    def start_execution(backend: Any, state_machine_arn: str, name: Any = None, execution_input: Any = None,
                        trace_header: Any = None) -> Any:
        # Step Functions names an unnamed execution with a UUID; moto would name every one "None"
        return original_start_execution(backend, state_machine_arn, name or str(uuid.uuid4()), execution_input,
                                        trace_header)

    StepFunctionsParserBackend.start_execution = start_execution


# ---- the control endpoint ---------------------------------------------------------------------
class Control:
    """``/_local/`` on the emulator: the clock, the fakes' calls, and scripting of the fakes."""

    def __init__(self, clock: Any, personalize: Any, cleanroomsml: Any, functions: DeployedFunctions,
                 generation_job_arn: str) -> None:
        self.clock, self.personalize, self.cleanroomsml = clock, personalize, cleanroomsml
        self.functions, self.generation_job_arn = functions, generation_job_arn

    def wrap(self, app: Callable) -> Callable:
        def dispatch(environ: dict[str, Any], start_response: Callable) -> Any:
            if environ.get("PATH_INFO", "").startswith(CONTROL_PREFIX):
                return self.handle(environ, start_response)
            return app(environ, start_response)

        return dispatch

    def handle(self, environ: dict[str, Any], start_response: Callable) -> Any:
        path = environ["PATH_INFO"][len(CONTROL_PREFIX):]
        operation = getattr(self, f"do_{environ['REQUEST_METHOD'].lower()}_{path.replace('-', '_')}", None)
        if operation is None:
            answer, status = {"message": f"no such control operation: {environ['REQUEST_METHOD']} {path}"}, \
                "404 Not Found"
        else:
            try:
                length = int(environ.get("CONTENT_LENGTH") or 0)
                answer, status = operation(json.loads(environ["wsgi.input"].read(length)) if length else {}), "200 OK"
            except Exception as error:  # noqa: BLE001 - reported to the caller
                answer, status = {"message": f"{type(error).__name__}: {error}"}, "400 Bad Request"
        data = json.dumps(answer, default=str).encode()
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
        return [data]

    def do_get_state(self, _: Any) -> dict[str, Any]:
        def calls(fake: Any) -> list[dict[str, Any]]:
            return [{"operation": c.operation, "error": c.error, "at": c.at.isoformat()} for c in fake.calls]

        return {
            "now": self.clock.now().isoformat(), "elapsed": self.clock.elapsed(), "waited": self.clock.waited,
            "backedOff": self.clock.backed_off, "generationJobArn": self.generation_job_arn,
            "invocations": self.functions.invocations, "pendingInvocations": self.functions.pending,
            "calls": {"personalize": calls(self.personalize), "cleanroomsml": calls(self.cleanroomsml)},
            "violations": self.personalize.violations + self.cleanroomsml.violations,
        }

    def do_post_plan(self, body: dict[str, Any]) -> dict[str, Any]:
        """Script one job by name: ``{"service": "personalize"|"cleanroomsml", "name": ..., "plan": {...}}``
        with JobPlan's fields (``duration`` seconds, ``outcome`` success|failure, ``failure_reason``,
        ``num_deleted``, ``status_code``)."""
        from .fakes import JobPlan

        fake = {"personalize": self.personalize, "cleanroomsml": self.cleanroomsml}[body["service"]]
        fake.plans[body["name"]] = JobPlan(**body.get("plan", {}))
        return {"planned": body["name"]}

    def do_post_training(self, body: dict[str, Any]) -> dict[str, Any]:
        """Start a training of the sample solution now (the dataset group is busy until it ends):
        ``{"minutes": 30}``; returns the solution version's ARN."""
        from .fakes import JobPlan

        solution = self.personalize._arn("solution", SOLUTION_NAME)
        minutes = float(body.get("minutes", TRAINING_MINUTES))
        return {"solutionVersionArn": self.personalize.add_solution_version(
            solution, plan=JobPlan(duration=minutes * 60), name="local-scheduled-training")}

    def do_post_generation_job(self, body: dict[str, Any]) -> dict[str, Any]:
        """Add an audience generation job: ``{"id": ..., "status": "ACTIVE", "bins": [...]}``."""
        from .fakes import ConfiguredModel

        model = ConfiguredModel("", body.get("sizeType", "ABSOLUTE"), body.get("bins", SIZE_BINS))
        return {"arn": self.cleanroomsml.add_generation_job(body["id"], status=body.get("status", "ACTIVE"),
                                                            model=model)}


# ---- the server ---------------------------------------------------------------------------------
class EmulatorServer:
    """The server itself, inside the emulator process: moto's app configured to run what is deployed,
    behind the control endpoint, until it is told to stop (the parent side is
    :class:`~tests.harness.local_deploy.EmulatorProcess`)."""

    def __init__(self, state_dir: Path, port: int = 0) -> None:
        self.state_dir, self.requested_port = state_dir, port
        self.port = 0
        self.stopping = threading.Event()

    def configure(self) -> None:
        """Everything that must hold before the first request."""
        import boto3
        import moto.stepfunctions.models as sfn_models
        from moto.awslambda_simple.models import LambdaSimpleBackend
        from moto.core.config import default_user_config
        from moto.stepfunctions.parser.models import stepfunctions_parser_backends

        from . import moto_fixes
        from .aws_calls import Recorder
        from .clock import VirtualClock
        from .fake_service import install
        from .fakes import ConfiguredModel, FakeCleanRoomsML, FakePersonalize, JobPlan
        from .lambda_runtime import virtual_time

        default_user_config["stepfunctions"] = {"execute_state_machine": True}
        default_user_config["lambda"] = {"use_docker": False}
        default_user_config.setdefault("core", {})["reset_boto3_session"] = False
        sfn_models.stepfunctions_backends = stepfunctions_parser_backends  # machines made by CloudFormation run

        start = datetime.now(timezone.utc).replace(microsecond=0)
        self.clock = VirtualClock(start, real_time=True)
        self._time = virtual_time(self.clock)
        self._time.__enter__()

        self.code_cache = self.state_dir / "lambda-code"
        shutil.rmtree(self.code_cache, ignore_errors=True)
        calls_file = self.state_dir / AWS_CALLS_FILE
        calls_file.unlink(missing_ok=True)
        self.recorder = Recorder(str(calls_file))
        self.functions = DeployedFunctions(self.code_cache, self.clock, self.recorder)
        functions = self.functions

        def invoke(backend: Any, function_name: str, qualifier: Any, body: Any, headers: Any,
                   response_headers: Any) -> bytes:
            return functions.invoke(backend.get_function(function_name, qualifier), body, response_headers)

        LambdaSimpleBackend.invoke = invoke
        # the queue's startExecution.sync:2 (optimised integrations) and side-by-side executions, as in local.py.
        # StartExecution waits for the invocation in progress: a deployed handler that called StartExecution itself
        # (the upload trigger, not deployed by make local) would wait for itself over HTTP.
        self._fixes = contextlib.ExitStack()
        self._fixes.enter_context(moto_fixes.service_integrations())
        self._fixes.enter_context(moto_fixes.under_invocation_lock(self.functions.lock))
        self._fixes.enter_context(moto_fixes.partition_queries())
        log.info("moto gap filled: optimised service integrations (startExecution.sync:2); Step Functions' "
                 "client creation waits for the Lambda invocation in progress; a DynamoDB query reads its partition only "
                 "(moto_fixes)")
        CustomResources(self.functions, lambda: self.port).install()
        for change in install_cloudformation_gaps() + install_event_delivery(self.functions):
            log.info("moto gap filled: %s", change)

        self.personalize = FakePersonalize(self.clock, REGION, ACCOUNT)
        self.personalize.default_plan = JobPlan(duration=DELETION_MINUTES * 60, num_deleted=3)
        group = f"arn:aws:personalize:{REGION}:{ACCOUNT}:dataset-group/{SHOP_GROUP_NAME}"
        solution = self.personalize.add_solution(group, SOLUTION_NAME)
        serving = self.personalize.add_solution_version(solution, age=7 * 86400, name="local-initial")
        self.personalize.add_campaign(solution, serving, CAMPAIGN_NAME)
        self.personalize.add_dataset(group)
        self.personalize.training_plan = JobPlan(duration=TRAINING_MINUTES * 60)
        self.cleanroomsml = FakeCleanRoomsML(self.clock, REGION, ACCOUNT)
        self.cleanroomsml.default_plan = JobPlan(duration=EXPORT_MINUTES * 60)
        generation_job = self.cleanroomsml.add_generation_job(
            GENERATION_JOB_ID, model=ConfiguredModel("", "ABSOLUTE", list(SIZE_BINS)))
        boto3.setup_default_session(region_name=REGION)
        install([self.personalize, self.cleanroomsml], boto3.DEFAULT_SESSION.events)
        self.recorder.install(boto3.DEFAULT_SESSION.events)  # the deployed handlers' clients use this session
        self.control = Control(self.clock, self.personalize, self.cleanroomsml, self.functions, generation_job)

    def serve(self, parent_pid: int | None) -> None:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
        from werkzeug.serving import make_server

        self.configure()
        app = self.control.wrap(DomainDispatcherApplication(create_backend_app))
        server = make_server(HOST, self.requested_port, app, threaded=True, request_handler=MotoRequestHandler)
        self.port = server.server_port
        # The handlers' own calls (S3, ...) and moto's Step Functions executor reach this server.
        os.environ.update(isolated_environment(self.state_dir, self.port))
        os.environ["MOTO_PORT"] = str(self.port)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="moto-server",
                                  daemon=True)
        thread.start()
        state = {"pid": os.getpid(), "host": HOST, "port": self.port, "endpoint": f"http://{HOST}:{self.port}",
                 "account": ACCOUNT, "region": REGION, "generationJobArn": self.control.generation_job_arn,
                 "started": self.clock.now().isoformat(), "log": str(self.state_dir / "server.log")}
        state_file = self.state_dir / STATE_FILE
        staging = state_file.with_suffix(".tmp")
        staging.write_text(json.dumps(state, indent=2))
        staging.rename(state_file)
        log.info("local AWS emulator on %s (pid %d)", state["endpoint"], os.getpid())

        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stopping.set())
        if parent_pid:
            threading.Thread(target=self._watch_parent, args=(parent_pid,), daemon=True).start()
        try:
            while not self.stopping.wait(0.2):
                pass
        finally:
            log.info("stopping")
            server.shutdown()
            thread.join(10)
            state_file.unlink(missing_ok=True)
            shutil.rmtree(self.code_cache, ignore_errors=True)
            log.info("stopped")

    def _watch_parent(self, parent_pid: int) -> None:
        while not self.stopping.is_set():
            try:
                os.kill(parent_pid, 0)
            except ProcessLookupError:
                log.warning("parent %d is gone: stopping", parent_pid)
                self.stopping.set()
                return
            if os.getppid() != parent_pid:
                log.warning("parent %d is gone: stopping", parent_pid)
                self.stopping.set()
                return
            time.sleep(0.5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--state-dir", required=True, type=Path)
    parser.add_argument("--port", type=int, default=0, help="0 (default): a free port")
    parser.add_argument("--parent-pid", type=int, default=None, help="stop when this process is gone")
    args = parser.parse_args(argv)
    sys.dont_write_bytecode = True
    state_dir = args.state_dir.resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.INFO)
    for name in FORBIDDEN_VARIABLES:
        os.environ.pop(name, None)
    os.environ.update(isolated_environment(state_dir))
    _loopback_only()
    EmulatorServer(state_dir, args.port).serve(args.parent_pid)
    return 0


if __name__ == "__main__":
    sys.exit(main())
