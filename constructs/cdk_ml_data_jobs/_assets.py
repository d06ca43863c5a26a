"""Find the Lambda runtime code, from a source checkout or an installed wheel."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
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
