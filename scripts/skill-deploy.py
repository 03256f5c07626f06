#!/usr/bin/env python3
"""Updates the existing skill (the stack's SkillId) with this repository's skill package:
`make skill-deploy`, after `make deploy`.

What it does, in order:
  1. writes .deploy/skill-package/ (git-ignored): skill-package/ with the deployed function's
     `live` alias ARN as the skill's endpoint and its events endpoint (the tracked
     skill-package/skill.json keeps a placeholder: no account id in git);
  2. `ask smapi update-skill-manifest` for that skill's development stage;
  3. `ask smapi set-interaction-model` for each locale of skill-package/interactionModels/custom;
  4. waits (at most 5 minutes) until `ask smapi get-skill-status` reports every build done,
     and stops with the build's own error if one failed.

It never creates a skill: `ask deploy` without the project's ask-resources.json and state
would create a second skill, whose id the stack's SkillId (and so the function's skill-id
check) would not match.

Usage:
  skill-deploy.py [--skill-id ID] [--function-arn ARN] [--stage development] [--dry-run]

The skill id defaults to SkillId in samconfig.local.toml's parameter_overrides (written by
the first `make deploy`); the ARN to the stack's FunctionArn output (read with the AWS CLI-free
`sam list stack-outputs`, which make passes in). --dry-run writes the package and prints the
commands without running them. Needs the ASK CLI (`npm install -g ask-cli`, then
`ask configure`) for anything but --dry-run.
"""
import argparse
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "skill-package"
OUT = ROOT / ".deploy" / "skill-package"
ARN = re.compile(r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]+(:[A-Za-z0-9_-]+)?$")
SKILL_ID = re.compile(r"^amzn1\.ask\.skill\.[0-9a-f-]{36}$")
# Regions the Alexa Skills Kit trigger can invoke a function in; nearest to the users is best
# (North America: us-east-1; Europe, so the UK and Germany: eu-west-1; Far East: us-west-2).
ALEXA_REGIONS = ("us-east-1", "eu-west-1", "us-west-2")


def skill_id_from_samconfig(path: Path) -> str | None:
    if not path.exists():
        return None
    text = path.read_text(encoding="utf-8")
    match = re.search(r'SkillId=\\?"?(amzn1\.ask\.skill\.[0-9a-f-]{36})', text)
    return match.group(1) if match else None


def write_package(arn: str) -> Path:
    if OUT.exists():
        shutil.rmtree(OUT)
    shutil.copytree(PACKAGE, OUT)
    manifest_path = OUT / "skill.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["manifest"]["apis"]["custom"]["endpoint"]["uri"] = arn
    manifest["manifest"]["events"]["endpoint"]["uri"] = arn
    manifest_path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return OUT


def commands(skill_id: str, stage: str, package: Path) -> list[list[str]]:
    out = [[
        "ask", "smapi", "update-skill-manifest",
        "--skill-id", skill_id, "--stage", stage,
        "--manifest", f"file:{package / 'skill.json'}",
    ]]
    for model in sorted((package / "interactionModels" / "custom").glob("*.json")):
        out.append([
            "ask", "smapi", "set-interaction-model",
            "--skill-id", skill_id, "--stage", stage, "--locale", model.stem,
            "--interaction-model", f"file:{model}",
        ])
    return out


def wait_for_builds(skill_id: str, timeout_s: int = 300) -> int:
    """Polls the skill's status until the manifest and every model are built."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        done = subprocess.run(
            ["ask", "smapi", "get-skill-status", "--skill-id", skill_id],
            capture_output=True, text=True, check=False,
        )
        if done.returncode != 0:
            print(done.stderr or done.stdout, file=sys.stderr)
            return done.returncode
        status = json.loads(done.stdout or "{}")
        states = []
        manifest = status.get("manifest", {}).get("lastUpdateRequest", {})
        states.append(("manifest", manifest.get("status"), manifest.get("errors")))
        for locale, model in status.get("interactionModel", {}).items():
            request = model.get("lastUpdateRequest", {})
            states.append((f"model {locale}", request.get("status"), request.get("errors")))
        failed = [s for s in states if s[1] == "FAILED"]
        if failed:
            for name, _, errors in failed:
                print(f"{name}: build failed: {json.dumps(errors)}", file=sys.stderr)
            return 1
        if all(s[1] == "SUCCEEDED" for s in states):
            print("manifest and interaction models built: " + ", ".join(s[0] for s in states))
            return 0
        time.sleep(5)
    print(f"the builds did not finish within {timeout_s} s; see `ask smapi get-skill-status --skill-id {skill_id}`", file=sys.stderr)
    return 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skill-id")
    parser.add_argument("--function-arn")
    parser.add_argument("--stage", default="development", choices=["development"])
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args()

    skill_id = args.skill_id or skill_id_from_samconfig(ROOT / "samconfig.local.toml")
    if args.dry_run and skill_id is None:
        # `make skill-manifest` only writes the package: the id is shown as a placeholder.
        skill_id = "<SkillId>"
    elif not skill_id or not SKILL_ID.match(skill_id):
        print(
            "no skill id: run `make deploy` first (it saves SkillId in samconfig.local.toml), or pass "
            f"--skill-id amzn1.ask.skill.<id> (got {skill_id!r})",
            file=sys.stderr,
        )
        return 2
    arn = args.function_arn or ""
    if not ARN.match(arn):
        print(f"expected the stack's FunctionArn output (a Lambda ARN), got {arn!r}", file=sys.stderr)
        return 2
    region = arn.split(":")[3]
    if region not in ALEXA_REGIONS:
        print(
            f"warning: the function is in {region}; the Alexa Skills Kit invokes functions in "
            f"{', '.join(ALEXA_REGIONS)} (deploy the stack in one of them)",
            file=sys.stderr,
        )
    package = write_package(arn)
    print(f"{package.relative_to(ROOT)}: endpoint and events endpoint set to {arn}")
    steps = commands(skill_id, args.stage, package)
    if args.dry_run:
        for step in steps:
            print(" ".join(step))
        return 0
    if shutil.which("ask") is None:
        print("the ASK CLI is not installed: npm install -g ask-cli, then ask configure", file=sys.stderr)
        return 2
    for step in steps:
        print("+ " + " ".join(step), flush=True)
        done = subprocess.run(step, check=False)
        if done.returncode != 0:
            return done.returncode
    return wait_for_builds(skill_id)


if __name__ == "__main__":
    sys.exit(main())
