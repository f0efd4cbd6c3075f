"""Erase customers from the lake: the command line of erasure.py (see its docstring), which
re-materializes the derived partitions the erasure changed (the job's sensor does that in the UI).

    python -m shopinsight_pipeline.erase C01234 [C05678 ...] --requested-by dpo@shop.example \
        --reason "request 2026-118" [--root data] [--keep-originals-days N] [--no-rematerialize]
"""

import argparse
import json
import os
import sys

from shopinsight_pipeline.definitions import build_definitions
from shopinsight_pipeline.erasure import HOLD_DAYS, ErasureInProgress, erase_customers
from shopinsight_pipeline.erasure_job import partitions_to_rematerialize, rematerialize
from shopinsight_pipeline.resources import CustomerPseudonyms
from shopinsight_pipeline.storage import LakeStorage


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shopinsight_pipeline.erase", description=__doc__.splitlines()[0])
    parser.add_argument("customer_ids", nargs="+")
    parser.add_argument("--requested-by", required=True, help="who asked (recorded in the audit entry)")
    parser.add_argument("--reason", default="", help="the request's reference (recorded in the audit entry)")
    parser.add_argument("--root", default="data", help="data root (default: data)")
    parser.add_argument(
        "--keep-originals-days",
        type=int,
        default=HOLD_DAYS,
        help="keep the landing originals this many days in lake/restricted/erasure_hold (a legal hold; default "
        "SHOPINSIGHT_ERASURE_HOLD_DAYS or 0: overwritten)",
    )
    parser.add_argument(
        "--rematerialize",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="then re-materialize the derived partitions, one run per day (default; the job's sensor does it in the "
        "UI); --no-rematerialize leaves them to the operator (listed in the output and the audit)",
    )
    args = parser.parse_args(argv)
    storage = LakeStorage(root=args.root)
    key = CustomerPseudonyms(key=os.environ.get("SHOPINSIGHT_PSEUDONYM_KEY") or None).key_for(storage)
    definitions = build_definitions(args.root)
    specs = definitions.resolve_all_asset_specs()
    log = lambda line: print(line, file=sys.stderr)  # noqa: E731
    try:
        report = erase_customers(
            storage,
            args.customer_ids,
            key,
            args.requested_by,
            args.reason,
            log=log,
            downstream=lambda changed: partitions_to_rematerialize(storage, specs, changed),
            keep_originals_days=args.keep_originals_days,
        )
    except ErasureInProgress as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.rematerialize and report.to_rematerialize:
        failed = rematerialize(definitions, report.request_id, report.to_rematerialize, log)
        if failed:
            print(f"error: re-materializing failed for {', '.join(failed)}", file=sys.stderr)
            return 1
    elif report.to_rematerialize:
        log(
            f"{sum(map(len, report.to_rematerialize.values()))} derived partitions still hold the erased customers' "
            "contributions: re-materialize them (listed below and in the audit entry)"
        )
    summary = {"found": report.found, "removed": report.removed, "audit": report.audit_path}
    print(json.dumps({**summary, "to_rematerialize": report.to_rematerialize}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
