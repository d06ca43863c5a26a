"""What moto's S3 does not model, for chosen keys.

- extra HeadObject metadata, e.g. ``ArchiveStatus`` of an object in an S3
  Intelligent-Tiering archive tier (moto never archives);
- S3's refusal of HeadObject and GetObject, e.g. the bare ``400 Bad Request``
  S3 answers for an object encrypted with a customer-provided key (SSE-C) read
  without that key (moto stores SSE-C objects as plain ones).

Hooked on botocore's events like the service fakes, so the handlers' own clients
see it; keys that were not chosen reach moto untouched.
"""

from __future__ import annotations

from typing import Any, Callable

from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders

_OPERATIONS = ("HeadObject", "GetObject")


class S3Pretend:
    def __init__(self) -> None:
        self.heads: dict[str, dict[str, Any]] = {}
        self.refusals: dict[str, tuple[int, str, dict[str, str]]] = {}

    def head(self, key: str, **metadata: Any) -> None:
        """HeadObject of ``key`` answers with these members added (boto3's names)."""
        self.heads[key] = metadata

    def refuse(self, key: str, status: int, code: str | None = None, **headers: str) -> None:
        """HeadObject and GetObject of ``key`` fail with this HTTP status (and error code, for GET)."""
        self.refusals[key] = (status, code or str(status), headers)

    def install(self, events: Any) -> Callable[[], None]:
        hooks = []
        for operation in _OPERATIONS:
            hooks += [(f"before-parameter-build.s3.{operation}", self._remember_key),
                      (f"before-call.s3.{operation}", self._refuse),
                      (f"after-call.s3.{operation}", self._add_metadata)]
        for name, hook in hooks:
            events.register_first(name, hook)

        def uninstall() -> None:
            for name, hook in hooks:
                events.unregister(name, hook)

        return uninstall

    def _remember_key(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["s3_pretend_key"] = params.get("Key")

    def _refuse(self, model: Any, params: dict[str, Any], context: dict[str, Any], **_: Any) -> Any:
        refusal = self.refusals.get(context.get("s3_pretend_key"))
        if refusal is None:
            return None
        from moto.core.botocore_stubber import MockRawResponse

        status, code, headers = refusal
        # A HEAD error has no body: botocore names it after the status; a GET error carries its code.
        code = str(status) if model.name == "HeadObject" else code
        response = AWSResponse(params["url"], status, HTTPHeaders(headers), MockRawResponse(b""))
        parsed = {"Error": {"Code": code, "Message": "refused (pretended by the harness)"},
                  "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": dict(headers)}}
        return response, parsed

    def _add_metadata(self, model: Any, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        extra = self.heads.get(context.get("s3_pretend_key"))
        if model.name == "HeadObject" and extra and "Error" not in parsed:
            parsed.update(extra)
