"""Provider error codes and the failure kind each one means (see the reference's tables)."""

from __future__ import annotations

from channel_parser.domain.failures import FailureKind

Q = FailureKind.QUOTA_EXHAUSTED
C = FailureKind.CONCURRENCY_LIMITED
R = FailureKind.RATE_LIMITED
T = FailureKind.TRANSIENT
X = FailureKind.REJECTED
M = FailureKind.MISCONFIGURED


def _codes(kind: FailureKind, *codes: int) -> dict[str, FailureKind]:
    return {str(code): kind for code in codes}


# Z.AI business codes, sent as strings in {"error": {"code": "1302", ...}}.
ZAI_CODES: dict[str, FailureKind] = {
    **_codes(M, 1000, 1001, 1002, 1003, 1004),  # authentication
    **_codes(M, 1110, 1111, 1112),  # account inactive / missing / locked
    **_codes(Q, 1113),  # in arrears: no balance or resource package
    **_codes(T, 1120),  # account unreachable, try later
    **_codes(M, 1121),  # locked for irregular activity
    **_codes(X, 1210, 1212, 1213, 1214, 1215),  # bad parameters for this request
    **_codes(M, 1211),  # model does not exist
    **_codes(M, 1220, 1221, 1222),  # no permission / API offline / API missing
    **_codes(T, 1230, 1231),  # call flow error / request already in progress
    **_codes(T, 1234),  # network error
    **_codes(X, 1261),  # prompt too long
    **_codes(X, 1300, 1301),  # blocked by policy / unsafe content
    **_codes(C, 1302),  # too many concurrent requests
    **_codes(R, 1303),  # too many requests per period
    **_codes(Q, 1304),  # daily call limit: exhausted until the daily reset
    **_codes(T, 1305),  # traffic limit / model overloaded
    **_codes(Q, 1308),  # usage cap; the message names the reset time
    **_codes(Q, 1309),  # coding plan expired
    **_codes(Q, 1310),  # weekly / monthly cap; the message names the reset time
    **_codes(M, 1311),  # plan does not include this model
    **_codes(T, 1312),  # model overloaded
    **_codes(R, 1313),  # fair-use throttle
}

# Codes whose message names when the limit resets.
ZAI_RESET_IN_MESSAGE = frozenset({"1304", "1308", "1310", "1313"})

# OpenAI's codes (also its ``type`` field: old quota errors had ``code: null``).
OPENAI_CODES: dict[str, FailureKind] = {
    "insufficient_quota": Q,
    "billing_hard_limit_reached": Q,
    "rate_limit_exceeded": R,
    "context_length_exceeded": X,
    "string_above_max_length": X,
    "content_policy_violation": X,
    "invalid_api_key": M,
    "model_not_found": M,
    "invalid_organization": M,
    "server_error": T,
    "server_overloaded": T,
}

# OpenAI codes whose message ends "Please try again in 26.604s".
OPENAI_RESET_IN_MESSAGE = frozenset({"rate_limit_exceeded"})
