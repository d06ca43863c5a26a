"""The construct side of the construct/Lambda contract.

Every name of ``lambda/jobkit/contract.py`` (workflow names, event source,
state names, tracker phases, environment variables, default prefixes), taken
from the very file the functions run (pure standard library, loaded by path,
no aws-cdk-lib), so the constructs, the CLI and the handlers cannot drift
apart. ``tests/template/test_contract.py`` pins the synthesized templates to it.
"""

from __future__ import annotations

from ._assets import load_lambda_module

_module = load_lambda_module("jobkit/contract.py")
__all__ = sorted(name for name in vars(_module) if not name.startswith("_") and name != "annotations")
globals().update({name: getattr(_module, name) for name in __all__})
