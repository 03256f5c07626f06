#!/usr/bin/env python3
"""Writes the deployed function's `live` alias ARN into skill-package/skill.json, as the skill's
endpoint and its events endpoint: `make skill-manifest` (after `make deploy`).

Usage: set-skill-endpoint.py <FunctionArn> [skill.json]
"""
import json
import re
import sys

ARN = re.compile(r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]+(:[A-Za-z0-9_-]+)?$")


def main() -> int:
    if len(sys.argv) < 2 or not ARN.match(sys.argv[1]):
        print(f"expected the stack's FunctionArn output (a Lambda ARN), got {sys.argv[1:]!r}", file=sys.stderr)
        return 2
    arn = sys.argv[1]
    path = sys.argv[2] if len(sys.argv) > 2 else "skill-package/skill.json"
    with open(path, encoding="utf-8") as f:
        manifest = json.load(f)
    manifest["manifest"]["apis"]["custom"]["endpoint"]["uri"] = arn
    manifest["manifest"]["events"]["endpoint"]["uri"] = arn
    with open(path, "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2, ensure_ascii=False)
        f.write("\n")
    print(f"{path}: endpoint and events endpoint set to {arn}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
