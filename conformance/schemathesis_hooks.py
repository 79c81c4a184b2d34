"""Hooks for plain Schemathesis: ``st run openapi/voxscriber.yaml`` with the repository's ``schemathesis.toml``.

They make Schemathesis's own CLI reach the verdict of the suite's ``contract`` group, which drives the same engine
(:mod:`conformance.groups.contract_support`) and shares these rules with it:

- file parts carry real speech (the suite's bundled recording) for every media type the contract's multipart
  encodings list: random bytes are not media, and a real server rightly refuses them;
- generated bodies keep the bounds the contract states outside its schemas (metadata keys of 1 to 64
  characters), which OpenAPI 3.0 cannot express;
- a "schema-valid request rejected" is excused when, and only when, the answer is a refusal the contract documents
  for data no schema can rule out: a cursor the server never issued, a language the model lacks, media that is not
  media or a media URL that cannot be fetched (:func:`~conformance.groups.contract_support.documented_refusal`).

Importing the module registers the hooks globally, as Schemathesis loads a ``hooks`` module named in its
configuration: ``hooks = "conformance.schemathesis_hooks"``.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import strategies as st
from schemathesis.core.failures import Failure
from schemathesis.core.transport import Response
from schemathesis.generation.case import Case

from conformance.context import default_audio
from conformance.groups.contract_support import documented_refusal, file_media_types, keeps_unwritten_bounds
from voxcontract.spec import load_spec

__all__ = ["filter_body", "filter_failure", "register_audio"]


def register_audio() -> list[str]:
    """Make every file part of the contract's multipart bodies carry the suite's speech; the media types."""
    media_types = file_media_types(load_spec())
    speech = st.just(default_audio())
    for media_type in media_types:
        schemathesis.openapi.media_type(media_type, speech)
    return media_types


@schemathesis.hook
def filter_body(context: Any, body: Any) -> bool:
    """Drop bodies with a metadata key the contract's prose forbids (empty, or longer than 64 characters)."""
    return keeps_unwritten_bounds(body)


@schemathesis.hook
def filter_failure(context: Any, failure: Failure, case: Case[Any], response: Response) -> bool:
    """Keep every failure but the contract's documented refusals of data no schema can rule out."""
    return not documented_refusal(failure, case, response)


register_audio()
