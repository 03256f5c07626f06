#!/usr/bin/env python3
"""`make lint`'s check of the deploy path (no AWS, no ASK CLI needed):

- the tracked settings carry nobody's account: samconfig.toml has no parameter_overrides
  (a guided deploy writes them into the git-ignored samconfig.local.toml), and
  skill-package/skill.json's endpoints are the placeholder, not a real function ARN;
- `scripts/skill-deploy.py --dry-run` writes the package with the given ARN into the
  git-ignored .deploy/ (never into skill-package/) and prints the ASK CLI commands that update
  the existing skill: its manifest and each locale's interaction model, never `ask deploy`
  (which would create a second skill);
- .gitignore ignores what holds personal settings.
"""
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER = "REPLACE-WITH-THE-FunctionArn-OUTPUT"
ARN = "arn:aws:lambda:eu-west-1:123456789012:function:alexa-proactive-ProactiveFunction-AbC:live"
SKILL = "amzn1.ask.skill.11111111-2222-3333-4444-555555555555"
problems = []


def check(ok, message):
    if not ok:
        problems.append(message)


samconfig = (ROOT / "samconfig.toml").read_text(encoding="utf-8")
check("parameter_overrides" not in samconfig,
      "samconfig.toml holds parameter_overrides: personal settings belong in samconfig.local.toml")
manifest_path = ROOT / "skill-package" / "skill.json"
tracked = manifest_path.read_text(encoding="utf-8")
manifest = json.loads(tracked)["manifest"]
for where, uri in [("apis.custom.endpoint", manifest["apis"]["custom"]["endpoint"]["uri"]),
                   ("events.endpoint", manifest["events"]["endpoint"]["uri"])]:
    check(PLACEHOLDER in uri, f"skill-package/skill.json {where} is {uri!r}, not the placeholder")
ignored = (ROOT / ".gitignore").read_text(encoding="utf-8").split()
for entry in ["/.deploy", "/samconfig.local.toml"]:
    check(entry in ignored, f".gitignore does not ignore {entry}")

done = subprocess.run(
    [sys.executable, str(ROOT / "scripts" / "skill-deploy.py"), "--dry-run",
     "--skill-id", SKILL, "--function-arn", ARN],
    capture_output=True, text=True, check=False,
)
check(done.returncode == 0, f"skill-deploy.py --dry-run failed: {done.stderr}")
out = done.stdout
check(f"ask smapi update-skill-manifest --skill-id {SKILL} --stage development" in out,
      f"no manifest update in: {out}")
locales = sorted(p.stem for p in (ROOT / "skill-package" / "interactionModels" / "custom").glob("*.json"))
for locale in locales:
    check(f"ask smapi set-interaction-model --skill-id {SKILL} --stage development --locale {locale}" in out,
          f"no interaction model update for {locale} in: {out}")
check("ask deploy" not in out, "the dry run would run `ask deploy` (a second skill)")
written = json.loads((ROOT / ".deploy" / "skill-package" / "skill.json").read_text(encoding="utf-8"))
check(written["manifest"]["apis"]["custom"]["endpoint"]["uri"] == ARN, "the written package lacks the ARN")
check(written["manifest"]["events"]["endpoint"]["uri"] == ARN, "the written package's events endpoint lacks the ARN")
check(manifest_path.read_text(encoding="utf-8") == tracked, "the dry run changed the tracked skill.json")
bad = subprocess.run(
    [sys.executable, str(ROOT / "scripts" / "skill-deploy.py"), "--dry-run",
     "--skill-id", SKILL, "--function-arn", "not-an-arn"],
    capture_output=True, text=True, check=False,
)
check(bad.returncode == 2 and "FunctionArn" in bad.stderr, "a wrong ARN is not refused with a reason")

if problems:
    for p in problems:
        print(f"check-deploy: {p}", file=sys.stderr)
    sys.exit(1)
print(f"check-deploy: settings untracked, skill package written to .deploy/, {len(locales)} locale(s) and the manifest updated on the existing skill")
