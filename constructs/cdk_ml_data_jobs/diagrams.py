"""Draw a synthesized template: its architecture and the graph of each state machine (Graphviz DOT).

Usage: ``python -m cdk_ml_data_jobs.diagrams TEMPLATE.json OUT_DIR [--queue]`` writes
``architecture.dot`` and ``<state machine>.dot`` files, and renders each to SVG
and PNG when Graphviz's ``dot`` is on PATH. Pure standard library otherwise.
With ``--queue`` (a template with a ``DeletionRequestQueue``): only the batch
state machine (``deletionrequests-state-machine.dot``) and the request lifecycle
(``request-lifecycle.dot``, statuses from ``jobkit.contract``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

_SHOWN = {
    "AWS::S3::Bucket": ("S3 bucket", "cylinder", "#E8F5E9"),
    "AWS::Lambda::Function": ("Lambda", "box", "#FFF3E0"),
    "AWS::StepFunctions::StateMachine": ("Step Functions", "box3d", "#F3E5F5"),
    "AWS::Events::Rule": ("EventBridge rule", "cds", "#FCE4EC"),
    "AWS::SNS::Topic": ("SNS topic", "note", "#E3F2FD"),
    "AWS::SQS::Queue": ("SQS dead letters", "folder", "#ECEFF1"),
    "AWS::IAM::Role": ("IAM role", "house", "#FFFDE7"),
}
_EXTERNAL_CALLS = {
    "deletion_launch": "Amazon Personalize", "deletion_poll": "Amazon Personalize",
    "export_validate": "AWS Clean Rooms ML", "export_start": "AWS Clean Rooms ML",
    "export_poll": "AWS Clean Rooms ML", "outcome_report": "EventBridge (default bus)",
}


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _refs(value: Any) -> Iterator[str]:
    """Logical ids referenced by ``Ref`` or ``Fn::GetAtt`` anywhere in ``value``."""
    if isinstance(value, dict):
        if "Ref" in value and isinstance(value["Ref"], str) and not value["Ref"].startswith("AWS::"):
            yield value["Ref"]
        if "Fn::GetAtt" in value:
            yield value["Fn::GetAtt"][0]
        for item in value.values():
            yield from _refs(item)
    elif isinstance(value, list):
        for item in value:
            yield from _refs(item)


def _label(resource_id: str, resource: dict[str, Any]) -> str:
    path = resource.get("Metadata", {}).get("aws:cdk:path", resource_id)
    parts = [p for p in path.split("/")[1:] if p not in ("Resource", "Function", "Bucket", "StateMachine", "Topic")]
    return "/".join(parts[-3:]) or resource_id


def _is_personalize_role(resource: dict[str, Any]) -> bool:
    return resource["Type"] == "AWS::IAM::Role" and "personalize.amazonaws.com" in json.dumps(
        resource.get("Properties", {}).get("AssumeRolePolicyDocument", {}))


def architecture_dot(template: dict[str, Any]) -> str:
    """The template's main resources and who refers to whom, grouped by workflow.

    Left out as noise: IAM policies, Lambda permissions, log groups, the
    functions' and state machines' own roles; alarms are drawn once per state
    machine.
    """
    resources = template["Resources"]
    shown = {lid: r for lid, r in resources.items()
             if r["Type"] in _SHOWN and (r["Type"] != "AWS::IAM::Role" or _is_personalize_role(r))}
    alarms: dict[str, int] = {}
    for resource in resources.values():
        if resource["Type"] == "AWS::CloudWatch::Alarm":
            for ref in _refs(resource.get("Properties", {}).get("Dimensions", [])):
                alarms[ref] = alarms.get(ref, 0) + 1
    groups: dict[str, list[str]] = {}
    for lid, resource in shown.items():
        path = resource.get("Metadata", {}).get("aws:cdk:path", lid).split("/")
        group = path[1] if len(path) > 2 and resource["Type"] not in ("AWS::S3::Bucket", "AWS::SNS::Topic") else ""
        groups.setdefault(group, []).append(lid)
    lines = ["digraph architecture {", '  rankdir=LR; fontname="Helvetica"; nodesep=0.25; ranksep=0.6;',
             '  node [fontname="Helvetica", fontsize=10, style=filled]; '
             'edge [fontname="Helvetica", fontsize=9, color="#546E7A"];']
    for index, (group, members) in enumerate(sorted(groups.items())):
        indent = "  "
        if group:
            lines.append(f"  subgraph cluster_{index} {{ label={_quote(group)}; style=rounded; color=\"#B0BEC5\";")
            indent = "    "
        for lid in sorted(members):
            resource = shown[lid]
            kind, shape, color = _SHOWN[resource["Type"]]
            lines.append(f"{indent}{_quote(lid)} [label={_quote(_label(lid, resource) + chr(10) + kind)}, "
                         f'shape={shape}, fillcolor="{color}"];')
            if lid in alarms:
                lines.append(f"{indent}{_quote(lid + 'Alarms')} [label={_quote(f'{alarms[lid]} CloudWatch alarms')},"
                             f' shape=octagon, fillcolor="#FFEBEE"];')
        if group:
            lines.append("  }")
    edges: set[tuple[str, str, str]] = set()
    externals: set[str] = set()
    for lid, resource in shown.items():
        properties = resource.get("Properties", {})
        for ref in set(_refs(properties)):
            if ref not in shown or ref == lid or resource["Type"] == "AWS::IAM::Role":
                continue
            if resource["Type"] == "AWS::S3::Bucket":
                edges.add((lid, ref, "access logs"))
            elif shown[ref]["Type"] == "AWS::IAM::Role":
                edges.add((lid, ref, "passes"))
            else:
                edges.add((lid, ref, ""))
        module = str(properties.get("Handler", "")).split(".")[0]
        if module in _EXTERNAL_CALLS:
            externals.add(_EXTERNAL_CALLS[module])
            edges.add((lid, _EXTERNAL_CALLS[module], "calls"))
        if lid in alarms:
            for topic in (t for t, r in shown.items() if r["Type"] == "AWS::SNS::Topic"):
                edges.add((lid + "Alarms", topic, "alarm"))
            edges.add((lid + "Alarms", lid, "watch"))
        if _is_personalize_role(resource):
            externals.add("Amazon Personalize")
            edges.add(("Amazon Personalize", lid, "assumes"))
            for policy in resources.values():  # the role's read permission lives in a policy: draw it from there
                if policy["Type"] == "AWS::IAM::Policy" and lid in set(_refs(policy["Properties"].get("Roles", []))):
                    for bucket in set(_refs(policy["Properties"])) & set(shown):
                        if shown[bucket]["Type"] == "AWS::S3::Bucket":
                            edges.add((lid, bucket, "reads user-ID files"))
    for name in sorted(externals):
        lines.append(f"  {_quote(name)} [shape=component, fillcolor=\"#FFFFFF\"];")
    for src, dst, label in sorted(edges):
        attrs = f" [label={_quote(label)}]" if label else ""
        lines.append(f"  {_quote(src)} -> {_quote(dst)}{attrs};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def definition_of(resource: dict[str, Any]) -> dict[str, Any]:
    """A state machine's definition, with CloudFormation references replaced by ``${LogicalId}``."""
    body = resource["Properties"]["DefinitionString"]
    if isinstance(body, dict) and "Fn::Join" in body:
        separator, parts = body["Fn::Join"]
        body = separator.join(p if isinstance(p, str) else "${" + next(_refs(p), "ref") + "}" for p in parts)
    return json.loads(body)


def _condition(choice: dict[str, Any]) -> str:
    if "And" in choice:
        return " and ".join(_condition(c) for c in choice["And"])
    for key, value in choice.items():
        if key not in ("Variable", "Next"):
            variable = choice.get("Variable", "").replace("$.", "")
            if value is True and key.startswith("Is"):  # IsPresent, IsString: "failure.Cause is a string"
                return f"{variable} {'present' if key == 'IsPresent' else 'is a ' + key[2:].lower()}"
            operator = "=" if key.endswith("Equals") else ("matches" if key == "StringMatches" else key)
            return f"{variable} {operator} {value}"
    return "?"


def _states_dot(states: dict[str, Any], lines: list[str], indent: str = "  ") -> None:
    """Nodes and edges of ``states``; a Map state's item processor is drawn inside it, as a cluster."""
    shapes = {"Task": ("box", "#FFF3E0"), "Wait": ("hexagon", "#E3F2FD"), "Choice": ("diamond", "#F3E5F5"),
              "Succeed": ("doublecircle", "#C8E6C9"), "Fail": ("octagon", "#FFCDD2"), "Pass": ("box", "#ECEFF1"),
              "Map": ("box", "#E0F2F1")}
    for name, state in states.items():
        shape, color = shapes.get(state["Type"], ("box", "#FFFFFF"))
        detail = state["Type"]
        if state["Type"] == "Wait":
            detail = f"wait {state.get('SecondsPath', state.get('Seconds', ''))}".replace("$.", "")
        elif state["Type"] == "Fail":
            detail = state.get("Error") or state.get("ErrorPath", "").replace("$.", "error from ")
        elif state["Type"] == "Map":
            detail = f"Map over {state.get('ItemsPath', '$').replace('$.', '')}"
        lines.append(f"{indent}{_quote(name)} [label={_quote(name + chr(10) + detail)}, shape={shape}, "
                     f'fillcolor="{color}"];')
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if processor:
            lines.append(f"{indent}subgraph {_quote('cluster_' + name)} {{")
            lines.append(f'{indent}  label={_quote("each item of " + name)}; style=dashed; color="#80CBC4";')
            _states_dot(processor["States"], lines, indent + "  ")
            lines.append(f"{indent}}}")
            lines.append(f"{indent}{_quote(name)} -> {_quote(processor['StartAt'])} [label=\"each item\", "
                         'color="#00897B", fontcolor="#00695C"];')
        if "Next" in state:
            lines.append(f"{indent}{_quote(name)} -> {_quote(state['Next'])};")
        for choice in state.get("Choices", []):
            lines.append(f"{indent}{_quote(name)} -> {_quote(choice['Next'])} [label={_quote(_condition(choice))}];")
        if "Default" in state:
            lines.append(f"{indent}{_quote(name)} -> {_quote(state['Default'])} [label=\"otherwise\", style=dashed];")
        retries = state.get("Retry", [])
        if retries:
            errors = sum(len(r["ErrorEquals"]) for r in retries)
            lines.append(f"{indent}{_quote(name)} -> {_quote(name)} [label={_quote(f'retry {errors} transient errors')}, "
                         'color="#90A4AE", fontcolor="#607D8B"];')
        for catch in state.get("Catch", []):
            errors = catch["ErrorEquals"]
            label = "any error" if errors == ["States.ALL"] else f"{len(errors)} named errors"
            lines.append(f"{indent}{_quote(name)} -> {_quote(catch['Next'])} [label={_quote(label)}, style=dashed, "
                         'color="#E57373", fontcolor="#C62828"];')


def state_machine_dot(definition: dict[str, Any], title: str) -> str:
    """The state machine's graph: states, transitions, choices, retries and catches; Map item processors nested."""
    lines = [f"digraph {_quote(title)} {{", f'  label={_quote(title)}; labelloc=t; fontname="Helvetica";',
             '  node [fontname="Helvetica", fontsize=10, style=filled]; edge [fontname="Helvetica", fontsize=9];',
             '  start [shape=point, width=0.15];', f"  start -> {_quote(definition['StartAt'])};"]
    _states_dot(definition["States"], lines)
    lines.append("}")
    return "\n".join(lines) + "\n"


def request_lifecycle() -> list[tuple[str, str, str]]:
    """The deletion request queue's request lifecycle: (from, to, why), the statuses from ``jobkit.contract``."""
    from . import _contract as contract

    queued, running = contract.REQUEST_QUEUED, contract.REQUEST_IN_PROGRESS
    return [
        ("file created", queued, "intake: pre-flight passed, IDs counted, one transaction"),
        ("file created", contract.REQUEST_REJECTED, "intake: breaks a rule (the pre-flight's sentence)"),
        ("file created", "refused", "request ID taken by another object (event; nothing registered)"),
        (queued, queued, "deferred: pending_job_limit PENDING jobs (deferredReason)"),
        (queued, running, "a batch run claims it (conditional write)"),
        (running, queued, "job not COMPLETED, attempts < max_attempts (lastFailureReason)"),
        (running, contract.REQUEST_COMPLETED, "every dataset group's job COMPLETED"),
        (running, contract.REQUEST_FAILED, "a target's job failed max_attempts times, or its file is gone"),
    ]


def request_lifecycle_dot() -> str:
    """The request lifecycle as a graph; every status of ``jobkit.contract.REQUEST_STATUSES`` is a node."""
    from . import _contract as contract

    colors = {contract.REQUEST_COMPLETED: "#C8E6C9", contract.REQUEST_FAILED: "#FFCDD2",
              contract.REQUEST_REJECTED: "#FFE0B2"}
    lines = ['digraph "Deletion request lifecycle" {',
             '  label="Deletion request lifecycle (DeletionRequestQueue)"; labelloc=t; fontname="Helvetica";',
             '  node [fontname="Helvetica", fontsize=10, style=filled]; edge [fontname="Helvetica", fontsize=9];',
             '  "file created" [shape=point, width=0.15];',
             '  "refused" [shape=note, fillcolor="#ECEFF1", label="refused\n(not a status: nothing registered)"];']
    for status in contract.REQUEST_STATUSES:
        terminal = status not in contract.REQUEST_OPEN_STATUSES
        lines.append(f"  {_quote(status)} [shape={'doubleoctagon' if terminal else 'box'}, "
                     f'fillcolor="{colors.get(status, "#E3F2FD")}"];')
    for source, target, why in request_lifecycle():
        lines.append(f"  {_quote(source)} -> {_quote(target)} [label={_quote(why)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render(dot_file: Path) -> list[Path]:
    """Render ``dot_file`` to SVG and PNG when Graphviz is installed; returns what was written."""
    dot = shutil.which("dot")
    if dot is None:
        return []
    written = []
    for fmt in ("svg", "png"):
        out = dot_file.with_suffix(f".{fmt}")
        extra = ["-Gdpi=110"] if fmt == "png" else []
        subprocess.run([dot, f"-T{fmt}", *extra, "-o", str(out), str(dot_file)], check=True)
        written.append(out)
    return written


def main(argv: list[str]) -> int:
    queue_only = "--queue" in argv
    argv = [a for a in argv if a != "--queue"]
    if len(argv) != 3:
        print(__doc__)
        return 2
    template = json.loads(Path(argv[1]).read_text())
    out = Path(argv[2])
    out.mkdir(parents=True, exist_ok=True)
    files = {"request-lifecycle.dot": request_lifecycle_dot()} if queue_only else {
        "architecture.dot": architecture_dot(template)}
    for lid, resource in sorted(template["Resources"].items()):
        if resource["Type"] == "AWS::StepFunctions::StateMachine":
            if queue_only != (_label(lid, resource).split("/")[0] == "DeletionRequests"):
                continue
            name = _label(lid, resource).split("/")[0]
            slug = "".join(c if c.isalnum() else "-" for c in name).lower()
            files[f"{slug}-state-machine.dot"] = state_machine_dot(definition_of(resource), name)
    for name, text in files.items():
        path = out / name
        path.write_text(text)
        rendered = render(path)
        print(f"{path}" + (f" -> {', '.join(str(r) for r in rendered)}" if rendered else " (install graphviz)"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
