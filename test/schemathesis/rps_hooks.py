"""Schemathesis hooks for rps serve (loaded through SCHEMATHESIS_HOOKS=rps_hooks).

The OpenAPI document states every constraint of /predict in JSON Schema except one it cannot
express: the rows of an observations instance are consecutive whole UTC hours, oldest first
(the document marks it with x-rps-consecutive-hours). For requests generated as schema-valid
(positive), this hook applies that documented rule: it rewrites the rows' times to consecutive
hours ending at the last row's hour. Negative requests are sent untouched.
"""
from datetime import datetime, timedelta, timezone

import schemathesis
from schemathesis.generation import GenerationMode

END = datetime(2026, 1, 1, tzinfo=timezone.utc)


@schemathesis.hook
def before_call(ctx, case, kwargs):
    meta = getattr(case, "meta", None)
    mode = getattr(getattr(meta, "generation", None), "mode", GenerationMode.POSITIVE)
    if mode != GenerationMode.POSITIVE or case.operation.path != "/predict" or not isinstance(case.body, dict):
        return
    for instance in case.body.get("instances") or []:
        rows = instance.get("observations") if isinstance(instance, dict) else None
        if not isinstance(rows, list):
            continue
        for k, row in enumerate(rows):
            if isinstance(row, dict):
                row["time"] = (END - timedelta(hours=len(rows) - 1 - k)).strftime("%Y-%m-%dT%H:00:00Z")
