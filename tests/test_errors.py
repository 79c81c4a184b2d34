from __future__ import annotations

from voxcontract import errors
from voxcontract.spec import load_spec


def test_problem_documents_match_the_contract_schema() -> None:
    from openapi_schema_validator import OAS30Validator

    document = load_spec()
    schema = {**document["components"]["schemas"]["Problem"], "components": document["components"]}
    validator = OAS30Validator(schema)
    for cls in (errors.BadRequest, errors.NotFound, errors.IdempotencyKeyReused, errors.InternalError):
        body = cls("what happened", errors=[{"pointer": "/x", "message": "bad"}]).to_problem(
            instance="/v1/upload", request_id="req_1"
        )
        validator.validate(body)
        assert body["type"] == errors.PROBLEM_TYPE_BASE + cls.code


def test_special_errors_carry_their_headers() -> None:
    assert errors.TooManyRequests("slow down", retry_after=-3).headers == {"Retry-After": "0"}
    assert errors.Unauthorized("no").headers["WWW-Authenticate"] == 'Bearer realm="voxscriber", error="invalid_token"'
    assert str(errors.NotFound("gone")) == "404 not_found: gone"
