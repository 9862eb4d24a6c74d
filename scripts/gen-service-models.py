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
# (service, version, operations to keep: None keeps them all). KMS and Organizations are
# embedded only for the operations opentrail serves (the key registry behind trail encryption,
# and DescribeOrganization, which `validate-logs` calls for organization trails), with the
# shapes those operations reach.
MODELS = [
    ("cloudtrail", "2013-11-01", None),
    ("cloudtrail-data", "2021-08-11", None),
    ("kms", "2014-11-01", [
        "CreateKey", "DescribeKey", "ListKeys", "EnableKey", "DisableKey",
        "CreateAlias", "UpdateAlias", "DeleteAlias", "ListAliases",
        "EnableKeyRotation", "DisableKeyRotation", "GetKeyRotationStatus", "RotateKeyOnDemand",
        "GenerateDataKey", "Encrypt", "Decrypt",
    ]),
    ("organizations", "2016-11-28", ["DescribeOrganization"]),
]


def prune(model, keep):
    """Keeps the operations in `keep` and the shapes they reach."""
    model["operations"] = {k: v for k, v in model["operations"].items() if k in keep}
    shapes, todo = set(), []
    for op in model["operations"].values():
        todo += [op[k]["shape"] for k in ("input", "output") if k in op]
        todo += [e["shape"] for e in op.get("errors", [])]
    while todo:
        name = todo.pop()
        if name in shapes:
            continue
        shapes.add(name)
        shape = model["shapes"][name]
        refs = list(shape.get("members", {}).values()) + [shape[k] for k in ("member", "key", "value") if k in shape]
        todo += [r["shape"] for r in refs]
    model["shapes"] = {k: v for k, v in model["shapes"].items() if k in shapes}
    return model


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
    for service, version, keep in MODELS:
        model = strip(load(service, version))
        if keep is not None:
            model = prune(model, keep)
        model["metadata"]["botocoreVersion"] = botocore.__version__
        path = os.path.join(out_dir, f"{service}-{version}.json")
        with open(path, "w") as f:
            json.dump(model, f, indent=1, sort_keys=True)
            f.write("\n")
        print(f"wrote {path} ({len(model['operations'])} operations, botocore {botocore.__version__})")


if __name__ == "__main__":
    sys.exit(main())
