#!/usr/bin/env python3
"""`make size` (part of `make test`): the release bootstrap must stay inside its size budget.

Builds the x86_64 release binary (the profile in Cargo.toml: fat LTO, opt-level "z",
stripped), zips it as SAM does (Python's zipfile, deflate at its default level), and fails if
the binary or the zip is over the budget below, printing the biggest crates (`cargo bloat
--crates`, installed into .venv on first need) so that whoever crosses it sees why.

The budget is what the code measures today plus about 3 %: raise it only with a reason in the
commit (a new feature worth its bytes), and keep docs/figures.md's size table in step.
"""
import io
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Bytes. Measured 2026-12-06 (no AWS SDK): binary 5,547,152, zip (deflate, default level) 2,488,676.
# SIZE_BUDGET_BINARY / SIZE_BUDGET_ZIP override them (to see the failure, or to try a lever).
BUDGET_BINARY = int(os.environ.get("SIZE_BUDGET_BINARY", 5_715_000))
BUDGET_ZIP = int(os.environ.get("SIZE_BUDGET_ZIP", 2_565_000))


def target_dir() -> Path:
    return Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))


def zipped_size(binary: Path) -> int:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as z:
        info = zipfile.ZipInfo("bootstrap")
        info.external_attr = 0o755 << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        z.writestr(info, binary.read_bytes())
    return len(buffer.getvalue())


def bloat() -> None:
    """The biggest crates of an unstripped build, for whoever is over budget."""
    tools = ROOT / ".venv"
    exe = tools / "bin" / "cargo-bloat"
    if not exe.exists():
        print("installing cargo-bloat into .venv to show where the bytes are...", flush=True)
        subprocess.run(["cargo", "install", "--quiet", "--locked", "--root", str(tools), "cargo-bloat"], check=False)
    if not exe.exists():
        print("(cargo-bloat could not be installed: run `cargo install cargo-bloat`, then "
              "`CARGO_PROFILE_RELEASE_STRIP=false cargo bloat --release --crates --bin alexa-proactive -n 20`)")
        return
    env = dict(os.environ, CARGO_PROFILE_RELEASE_STRIP="false", PATH=f"{tools / 'bin'}:{os.environ['PATH']}")
    subprocess.run(["cargo", "bloat", "--release", "--crates", "--bin", "alexa-proactive", "-n", "20"], env=env, check=False)


def main() -> int:
    build = subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "alexa-proactive"], cwd=ROOT, check=False)
    if build.returncode != 0:
        return build.returncode
    binary = target_dir() / "release" / "alexa-proactive"
    size = binary.stat().st_size
    zipped = zipped_size(binary)
    print(f"check-size: release bootstrap (x86_64) {size:,} bytes (budget {BUDGET_BINARY:,}), "
          f"zipped {zipped:,} bytes (budget {BUDGET_ZIP:,})")
    over = [what for what, value, budget in [("binary", size, BUDGET_BINARY), ("zip", zipped, BUDGET_ZIP)]
            if value > budget]
    if over:
        print(f"check-size: the {' and the '.join(over)} grew past the budget; where the bytes are:")
        bloat()
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
