#!/usr/bin/env python3
"""Regenerates crates/protocol/model/*.json from the installed botocore's service models.

botocore's models are the authority on operation and member names. opentrail embeds a copy with
the documentation stripped (shapes, members, constraints and errors kept) so the server can route
every operation and validate every request without Python at run time.

Usage: scripts/gen-service-models.py   (needs `pip install botocore`)
"""
import gzip
import json
import os
import sys

import botocore

DROP = {"documentation", "documentationUrl", "deprecatedMessage", "examples"}
MODELS = [("cloudtrail", "2013-11-01"), ("cloudtrail-data", "2021-08-11")]


def strip(node):
    if isinstance(node, dict):
        return {k: strip(v) for k, v in node.items() if k not in DROP}
    if isinstance(node, list):
        return [strip(v) for v in node]
    return node


def load(service, version):
    base = os.path.join(os.path.dirname(botocore.__file__), "data", service, version, "service-2.json")
    if os.path.exists(base):
        with open(base) as f:
            return json.load(f)
    with gzip.open(base + ".gz") as f:
        return json.load(f)


def main():
    out_dir = os.path.join(os.path.dirname(__file__), "..", "crates", "protocol", "model")
    for service, version in MODELS:
        model = strip(load(service, version))
        model["metadata"]["botocoreVersion"] = botocore.__version__
        path = os.path.join(out_dir, f"{service}-{version}.json")
        with open(path, "w") as f:
            json.dump(model, f, indent=1, sort_keys=True)
            f.write("\n")
        print(f"wrote {path} ({len(model['operations'])} operations, botocore {botocore.__version__})")


if __name__ == "__main__":
    sys.exit(main())
