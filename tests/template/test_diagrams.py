"""The committed pictures (docs/*.dot, rendered to SVG/PNG by `make diagrams`) match the current sample app.

The state-machine pictures are also judged against the template itself: each state machine's definition is
parsed from the synthesized DefinitionString with the tier's helpers (not with ``diagrams.definition_of``),
and every state and every transition it states (``StartAt``, ``Next``, ``Choices``, ``Default``, ``Catch``,
a loop for ``Retry``) must be a node or an edge of the generated DOT source, of the committed ``.dot`` and of
the committed SVG, read back as graphs (tokens of the DOT, ``<title>``s of the SVG), and nothing else.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Iterator

import pytest

from cdk_ml_data_jobs.diagrams import architecture_dot, definition_of, state_machine_dot

from . import helpers

DOCS = Path(__file__).resolve().parents[2] / "docs"


@pytest.fixture(scope="module")
def cli_template(sample_stack, sample_template_json):
    """The sample app's template as `cdk synth` writes it: with each resource's construct path in its metadata."""
    import copy

    from aws_cdk import CfnResource

    template = copy.deepcopy(sample_template_json)
    for construct in sample_stack.node.find_all():
        if isinstance(construct, CfnResource):
            logical_id = sample_stack.resolve(construct.logical_id)
            template["Resources"][logical_id].setdefault("Metadata", {})["aws:cdk:path"] = construct.node.path
    return template


def _machine(cli_template: dict, part: str) -> str:
    """The logical id of the sample app's state machine whose construct path has ``/part/``."""
    [lid] = [lid for lid, r in helpers.resources(cli_template, "AWS::StepFunctions::StateMachine").items()
             if f"/{part}/" in r["Metadata"]["aws:cdk:path"]]
    return lid


def test_architecture_picture_is_current(cli_template):
    assert (DOCS / "architecture.dot").read_text() == architecture_dot(cli_template), "run `make diagrams`"
    assert (DOCS / "architecture.svg").is_file()


@pytest.mark.parametrize("name, part", [("datadeletion", "DataDeletion"), ("audienceexport", "AudienceExport")])
def test_state_machine_pictures_are_current(cli_template, name, part):
    expected = state_machine_dot(definition_of(cli_template["Resources"][_machine(cli_template, part)]), part)
    assert (DOCS / f"{name}-state-machine.dot").read_text() == expected, "run `make diagrams`"
    assert (DOCS / f"{name}-state-machine.svg").is_file()


# ---- the drawing against the template, read independently of diagrams.py ------------------------------------

_DOT_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|->|[\w.]+|[\[\]{};=,]', re.S)


def _dot_graph(dot: str) -> tuple[set[str], Counter]:
    """The nodes declared (``"A" [..];``) and the edges drawn (``"A" -> "B"``) in a DOT source, by token."""
    tokens = [t[1:-1].replace('\\"', '"').replace("\\\\", "\\") if t.startswith('"') else t
              for t in _DOT_TOKEN.findall(dot)]
    nodes: set[str] = set()
    edges: Counter = Counter()
    depth = 0  # inside an attribute list [...]
    for index, token in enumerate(tokens):
        if token == "[":
            depth += 1
        elif token == "]":
            depth -= 1
        elif depth == 0 and token == "->":
            edges[(tokens[index - 1], tokens[index + 1])] += 1
        elif depth == 0 and tokens[index + 1:index + 2] == ["["] and tokens[index - 1:index] in (["{"], [";"]):
            if token not in ("node", "edge", "graph"):
                nodes.add(token)
    return nodes, edges


def _svg_graph(svg: Path) -> tuple[set[str], Counter]:
    """The nodes and edges Graphviz rendered into an SVG (each ``<g class=node|edge>`` has a ``<title>``)."""
    from xml.etree import ElementTree

    ns = {"svg": "http://www.w3.org/2000/svg"}
    groups = ElementTree.parse(svg).getroot().iterfind(".//svg:g", ns)
    nodes: set[str] = set()
    edges: Counter = Counter()
    for group in groups:
        title = group.findtext("svg:title", default="", namespaces=ns)
        if group.get("class") == "node":
            nodes.add(title)
        elif group.get("class") == "edge":
            edges[tuple(title.split("->"))] += 1
    return nodes, edges


def _states(definition: dict) -> Iterator[tuple[str, dict]]:
    """Every state of an ASL definition, those of Parallel branches and Map iterators included."""
    for name, state in definition["States"].items():
        yield name, state
        for nested in state.get("Branches", []) + [state[k] for k in ("Iterator", "ItemProcessor") if k in state]:
            yield from _states(nested)


def _expected_graph(definition: dict) -> tuple[set[str], Counter]:
    """What the picture must show: each state, the start, and one edge per transition the ASL states
    (``Next``, every ``Choices[].Next``, ``Default``, every ``Catch[].Next``; a state's retries as one loop; a
    Map state's item processor entered at its ``StartAt``)."""
    nodes = {"start"}
    edges: Counter = Counter({("start", definition["StartAt"]): 1})
    for name, state in _states(definition):
        nodes.add(name)
        targets = [state.get("Next"), state.get("Default"), *(c["Next"] for c in state.get("Choices", [])),
                   *(c["Next"] for c in state.get("Catch", [])), name if state.get("Retry") else None,
                   *(state[k]["StartAt"] for k in ("Iterator", "ItemProcessor") if k in state)]
        edges.update((name, target) for target in targets if target is not None)
    return nodes, edges


@pytest.fixture(scope="module")
def template_definitions(sample_template_json) -> dict[str, dict]:
    """Each state machine's ASL, parsed from the synthesized template with the tier's helpers."""
    return {lid: helpers.definition(sample_template_json, lid)
            for lid in helpers.resources(sample_template_json, "AWS::StepFunctions::StateMachine")}


def test_the_template_has_both_state_machines_with_choices_catches_and_retries(template_definitions):
    assert len(template_definitions) == 2
    for definition in template_definitions.values():
        states = dict(_states(definition))
        assert any(s.get("Choices") and s.get("Default") for s in states.values())
        assert any(s.get("Catch") for s in states.values()) and any(s.get("Retry") for s in states.values())


def test_the_state_machine_picture_shows_every_state_and_transition(template_definitions):
    for lid, definition in template_definitions.items():
        drawn_nodes, drawn_edges = _dot_graph(state_machine_dot(definition, lid))
        nodes, edges = _expected_graph(definition)
        assert drawn_nodes == nodes, lid
        assert drawn_edges == edges, lid


@pytest.mark.parametrize("name, part", [("datadeletion", "DataDeletion"), ("audienceexport", "AudienceExport")])
def test_the_committed_pictures_show_every_state_and_transition(cli_template, template_definitions, name, part):
    nodes, edges = _expected_graph(template_definitions[_machine(cli_template, part)])
    assert _dot_graph((DOCS / f"{name}-state-machine.dot").read_text()) == (nodes, edges), "run `make diagrams`"
    assert _svg_graph(DOCS / f"{name}-state-machine.svg") == (nodes, edges), "run `make diagrams` (needs graphviz)"


def test_the_dot_reader_sees_nodes_edges_and_labels_with_arrows():
    dot = 'digraph "g" {\n  node [a=1];\n  start [shape=point];\n  start -> "A";\n' \
          '  "A" [label="A\nTask -> x"];\n  "A" -> "B" [label="x = \\"y\\""];\n  "A" -> "A";\n  "A" -> "B";\n}\n'
    assert _dot_graph(dot) == ({"start", "A"}, Counter({("start", "A"): 1, ("A", "B"): 2, ("A", "A"): 1}))


# ---- the deletion request queue: its batch state machine and the request lifecycle ----------------------------


def test_the_batch_state_machine_picture_shows_every_state_and_transition_nested_maps_included(sample_with_queue):
    from cdk_ml_data_jobs import _contract as contract

    template = sample_with_queue.json
    [lid] = [lid for lid in helpers.resources(template, "AWS::StepFunctions::StateMachine")
             if "DeletionRequests" in lid]
    definition = helpers.definition(template, lid)
    nodes, edges = _expected_graph(definition)
    assert {contract.STATE_BATCH_CLAIM, contract.STATE_BATCH_RUN, contract.STATE_BATCH_RECORD,
            contract.STATE_BATCH_EACH_PART} <= nodes  # the nested Maps' states are in the expectation
    assert _dot_graph(state_machine_dot(definition, "DeletionRequests")) == (nodes, edges)
    committed = (DOCS / "deletionrequests-state-machine.dot").read_text()
    assert committed == state_machine_dot(definition_of(template["Resources"][lid]), "DeletionRequests"), \
        "run `make diagrams`"
    assert _dot_graph(committed) == (nodes, edges), "run `make diagrams`"
    assert _svg_graph(DOCS / "deletionrequests-state-machine.svg") == (nodes, edges), \
        "run `make diagrams` (needs graphviz)"


def test_the_request_lifecycle_picture_draws_every_status_of_the_contract():
    from cdk_ml_data_jobs import _contract as contract
    from cdk_ml_data_jobs.diagrams import request_lifecycle, request_lifecycle_dot

    dot = request_lifecycle_dot()
    nodes, edges = _dot_graph(dot)
    assert set(contract.REQUEST_STATUSES) <= nodes
    assert nodes - set(contract.REQUEST_STATUSES) == {"file created", "refused"}
    q, p = contract.REQUEST_QUEUED, contract.REQUEST_IN_PROGRESS
    assert {("file created", q), ("file created", contract.REQUEST_REJECTED), (q, q), (q, p), (p, q),
            (p, contract.REQUEST_COMPLETED), (p, contract.REQUEST_FAILED)} <= set(edges)
    assert Counter((a, b) for a, b, _ in request_lifecycle()) == edges
    for terminal in (contract.REQUEST_COMPLETED, contract.REQUEST_FAILED, contract.REQUEST_REJECTED):
        assert not any(a == terminal for a, _ in edges), terminal  # nothing leaves a final status
    assert (DOCS / "request-lifecycle.dot").read_text() == dot, "run `make diagrams`"
    assert _svg_graph(DOCS / "request-lifecycle.svg") == (nodes, edges), "run `make diagrams` (needs graphviz)"
