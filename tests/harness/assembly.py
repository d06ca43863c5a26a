"""Turn a synthesized template into what the local executor needs.

Resolves the intrinsic functions CDK emits (``Ref``, ``Fn::GetAtt``,
``Fn::Join``, pseudo parameters) to concrete names and ARNs for moto's account
and Region, so the state machines' definitions and the functions' environments
can be used as CloudFormation would have created them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

ACCOUNT = "123456789012"
REGION = "us-east-1"


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    arn: str
    handler: str
    environment: dict[str, str]
    code_dir: str
    path: str


@dataclass(frozen=True)
class MachineSpec:
    logical_id: str
    path: str
    definition: dict[str, Any]


class Resolver:
    def __init__(self, template: dict[str, Any], account: str = ACCOUNT, region: str = REGION) -> None:
        self.template, self.account, self.region = template, account, region
        self.resources: dict[str, Any] = template["Resources"]

    def physical_name(self, logical_id: str) -> str:
        resource = self.resources[logical_id]
        kind = resource["Type"]
        props = resource.get("Properties", {})
        if kind == "AWS::S3::Bucket":
            return props.get("BucketName") or ("b-" + re.sub(r"[^a-z0-9]", "", logical_id.lower()))[:63]
        if kind == "AWS::Logs::LogGroup":
            name = props.get("LogGroupName")
            return self.resolve(name) if name else f"/aws/{logical_id}"
        return logical_id

    def arn(self, logical_id: str) -> str:
        kind = self.resources[logical_id]["Type"]
        name = self.physical_name(logical_id)
        arns = {
            "AWS::Lambda::Function": f"arn:aws:lambda:{self.region}:{self.account}:function:{name}",
            "AWS::IAM::Role": f"arn:aws:iam::{self.account}:role/{name}",
            "AWS::S3::Bucket": f"arn:aws:s3:::{name}",
            "AWS::Logs::LogGroup": f"arn:aws:logs:{self.region}:{self.account}:log-group:{name}:*",
            "AWS::StepFunctions::StateMachine": f"arn:aws:states:{self.region}:{self.account}:stateMachine:{name}",
            "AWS::SNS::Topic": f"arn:aws:sns:{self.region}:{self.account}:{name}",
            "AWS::SQS::Queue": f"arn:aws:sqs:{self.region}:{self.account}:{name}",
            "AWS::KMS::Key": f"arn:aws:kms:{self.region}:{self.account}:key/{name}",
            "AWS::Events::Rule": f"arn:aws:events:{self.region}:{self.account}:rule/{name}",
            "AWS::CloudWatch::Alarm": f"arn:aws:cloudwatch:{self.region}:{self.account}:alarm:{name}",
            "AWS::DynamoDB::Table": f"arn:aws:dynamodb:{self.region}:{self.account}:table/{name}",
        }
        return arns[kind]

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if set(value) == {"Ref"}:
            ref = value["Ref"]
            pseudo = {"AWS::Partition": "aws", "AWS::Region": self.region, "AWS::AccountId": self.account,
                      "AWS::URLSuffix": "amazonaws.com", "AWS::StackName": "local"}
            if ref in pseudo:
                return pseudo[ref]
            if self.resources[ref]["Type"] in ("AWS::StepFunctions::StateMachine", "AWS::SNS::Topic"):
                return self.arn(ref)  # CloudFormation's Ref of these is their ARN
            return self.physical_name(ref)
        if set(value) == {"Fn::GetAtt"}:
            logical_id, attribute = value["Fn::GetAtt"]
            if attribute == "Arn":
                return self.arn(logical_id)
            if attribute == "Name":
                return self.physical_name(logical_id)
            raise KeyError(f"unsupported attribute {logical_id}.{attribute}")
        if set(value) == {"Fn::Join"}:
            separator, parts = value["Fn::Join"]
            return separator.join(str(self.resolve(p)) for p in parts)
        return {k: self.resolve(v) for k, v in value.items()}


class DeployedResolver(Resolver):
    """A :class:`Resolver` with the names a deployment gave the resources (CloudFormation's physical
    ids, e.g. from ``DescribeStackResources``), for templates deployed into the local emulator."""

    def __init__(self, template: dict[str, Any], physical_ids: dict[str, str], account: str = ACCOUNT,
                 region: str = REGION) -> None:
        super().__init__(template, account, region)
        self.physical_ids = physical_ids

    def physical_name(self, logical_id: str) -> str:
        physical = self.physical_ids.get(logical_id)
        if physical is None:
            return super().physical_name(logical_id)
        if physical.startswith("arn:"):
            return re.split(r"[:/]", physical)[-1]
        if physical.startswith(("http://", "https://")):
            return physical.rstrip("/").rsplit("/", 1)[-1]
        return physical


def functions(template: dict[str, Any], resolver: Resolver, code_dir: str) -> dict[str, FunctionSpec]:
    found = {}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Lambda::Function":
            continue
        props = resource["Properties"]
        env = resolver.resolve(props.get("Environment", {}).get("Variables", {}))
        asset = resource.get("Metadata", {}).get("aws:asset:path")
        spec = FunctionSpec(logical_id, resolver.arn(logical_id), props["Handler"], env,
                            asset if asset and asset.startswith("/") else code_dir,
                            resource.get("Metadata", {}).get("aws:cdk:path", logical_id))
        found[spec.arn] = spec
    return found


def machines(template: dict[str, Any], resolver: Resolver) -> dict[str, MachineSpec]:
    found = {}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::StepFunctions::StateMachine":
            continue
        definition = json.loads(resolver.resolve(resource["Properties"]["DefinitionString"]))
        path = resource.get("Metadata", {}).get("aws:cdk:path", logical_id)
        found[logical_id] = MachineSpec(logical_id, path, definition)
    return found


#: App context for a local run: construct paths and asset paths in the template,
#: and assets pointing at the real code folder (no staging copy).
LOCAL_CONTEXT = {
    "aws:cdk:enable-path-metadata": True,
    "aws:cdk:enable-asset-metadata": True,
    "aws:cdk:disable-asset-staging": True,
}
