"""Make a synthesized template stable for snapshot tests.

Asset hashes (``S3Key: <64 hex>.zip``) change with every edit of the Lambda
code; an infrastructure snapshot should change when IAM or wiring changes, not
when a handler does. Use it as::

    template = Template.from_stack(stack).to_json()
    assert normalize_template(template) == snapshot
"""

from __future__ import annotations

import re
from typing import Any

_ASSET_HASH = re.compile(r"[0-9a-f]{64}")
_PLACEHOLDER = "<asset-hash>"


def normalize_template(template: Any) -> Any:
    """A copy of ``template`` with every asset hash (64 hex characters) replaced by ``<asset-hash>``.

    Catches ``S3Key`` values (``<hash>.zip``) and asset paths in metadata;
    everything else is kept as is.
    """
    if isinstance(template, dict):
        return {key: normalize_template(value) for key, value in template.items()}
    if isinstance(template, list):
        return [normalize_template(v) for v in template]
    if isinstance(template, str):
        return _ASSET_HASH.sub(_PLACEHOLDER, template)
    return template
