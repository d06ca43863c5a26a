"""Find the Lambda runtime code, from a source checkout or an installed wheel."""

from __future__ import annotations

import importlib.util
import sys
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aws_cdk import aws_lambda as lambda_

# Never packaged: interpreter caches and dotfiles would change the asset hash.
ASSET_EXCLUDES = ["__pycache__", "*.pyc", ".*"]

_PACKAGE_DIR = Path(__file__).resolve().parent


@lru_cache(maxsize=None)
def lambda_code_dir() -> Path:
    """The folder holding the functions' code.

    An installed wheel carries it as ``cdk_ml_data_jobs/_lambda``; a source
    checkout (editable install) has it as ``lambda/`` at the project root, the
    parent of the ``constructs/`` source root.
    """
    candidates = (_PACKAGE_DIR / "_lambda", _PACKAGE_DIR.parent.parent / "lambda")
    for candidate in candidates:
        if (candidate / "jobkit" / "__init__.py").is_file():
            return candidate
    searched = ", ".join(str(c) for c in candidates)
    raise FileNotFoundError(f"cdk-ml-data-jobs: Lambda code not found (looked in {searched})")


def lambda_code() -> "lambda_.Code":
    """The functions' code asset (one asset shared by every function)."""
    from aws_cdk import aws_lambda  # imported here: the CLI uses this module without aws-cdk-lib

    return aws_lambda.Code.from_asset(str(lambda_code_dir()), exclude=ASSET_EXCLUDES)


def load_lambda_module(relative_path: str) -> ModuleType:
    """A pure-standard-library module of the shipped Lambda code (e.g. ``jobkit/contract.py``), loaded by path.

    This is how the construct side and the CLI share a contract with the
    handlers without a copy: the file the functions run is the file read here.
    It is registered as ``cdk_ml_data_jobs._lambda_<stem>`` (never as
    ``jobkit.*``, so no handler import is shadowed).
    """
    name = "cdk_ml_data_jobs._lambda_" + Path(relative_path).stem
    module = sys.modules.get(name)
    if module is None:
        spec = importlib.util.spec_from_file_location(name, lambda_code_dir() / relative_path)
        module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        sys.modules[name] = module
        spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module
