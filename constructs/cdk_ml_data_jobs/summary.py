"""Print a one-screen summary of a synthesized cloud assembly.

Usage: ``python -m cdk_ml_data_jobs.summary [cdk.out]``
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path


def summarize(outdir: Path) -> str:
    manifest = json.loads((outdir / "manifest.json").read_text())
    lines = []
    for name, artifact in sorted(manifest.get("artifacts", {}).items()):
        if artifact.get("type") != "aws:cloudformation:stack":
            continue
        template_path = outdir / artifact["properties"]["templateFile"]
        template = json.loads(template_path.read_text())
        resources = template.get("Resources", {})
        counts = Counter(r["Type"] for r in resources.values())
        lines.append(f"Stack {name}: {template_path}")
        lines.append(f"  {len(resources)} resources")
        for kind, count in sorted(counts.items()):
            lines.append(f"    {count:3d}  {kind}")
        machines = [lid for lid, r in resources.items() if r["Type"] == "AWS::StepFunctions::StateMachine"]
        for lid in machines:
            props = resources[lid]["Properties"]
            lines.append(f"  state machine {lid}: {props.get('StateMachineType', 'STANDARD')}, "
                         f"logging {props.get('LoggingConfiguration', {}).get('Level', 'OFF')}, "
                         f"X-Ray {'on' if props.get('TracingConfiguration', {}).get('Enabled') else 'off'}")
        for key, output in sorted(template.get("Outputs", {}).items()):
            lines.append(f"  output {key}: {output.get('Description', '')}")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    outdir = Path(argv[1] if len(argv) > 1 else "cdk.out")
    print(summarize(outdir))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
