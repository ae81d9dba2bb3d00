"""Print the stacks a `cdk synth` wrote into a cloud assembly (default: cdk.out)."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    outdir = Path(argv[1] if len(argv) > 1 else "cdk.out")
    try:
        manifest = json.loads((outdir / "manifest.json").read_text())
    except (OSError, json.JSONDecodeError) as error:
        print(f"No readable cloud assembly in {outdir}: {error}", file=sys.stderr)
        return 1
    stacks = {
        name: artifact["properties"]["templateFile"]
        for name, artifact in manifest.get("artifacts", {}).items()
        if artifact.get("type") == "aws:cloudformation:stack"
    }
    print(f"Synthesized {len(stacks)} stack(s) into {outdir}/:")
    for name, template in stacks.items():
        resources = json.loads((outdir / template).read_text()).get("Resources", {})
        print(f"  {name:<32} {outdir}/{template}  ({len(resources)} resources)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
