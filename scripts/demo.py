"""The README demo: lab up → `fixer check` on it (text, then HTML and JSON reports) → lab down."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.lab import Lab  # noqa: E402  (needs the repo root on sys.path first)

BACKEND_MPS = ("mp-healthy", "mp-sni-off")  # probe the lab's backends from an MP with SNI on and one with it off


def with_backends(lab: Lab) -> Path:
    """The lab's inventory plus `fixer_targets` (every backend of the lab) on two MPs, beside the original."""
    doc = yaml.safe_load(lab.inventory.read_text())
    mps = doc["all"]["children"]["message_processors"]["hosts"]
    targets = [{"url": b.url, "truststore": str(lab.backend_ca)} for b in lab.backends.values()]
    for name in BACKEND_MPS:
        mps[name]["fixer_targets"] = targets
    path = lab.inventory.with_name("inventory-backends.yml")
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--report-dir", type=Path, default=Path.cwd())
    args = parser.parse_args()
    print("starting the lab (real sshd, sudo and nginx nodes in network namespaces)...", flush=True)
    lab = Lab.up(components=True)
    try:
        inventory = with_backends(lab)
        base = [sys.executable, "-m", "fixer.cli", "check", "-i", str(inventory),
                "--known-hosts", str(lab.known_hosts), "--ssh-config", "/dev/null", "-T", "5"]
        print(f"lab up in {lab.dir}; running: fixer {' '.join(base[3:])}\n", flush=True)
        code = lab.run(base, cwd=str(REPO), check=False, capture_output=False).returncode
        args.report_dir.mkdir(parents=True, exist_ok=True)
        for fmt in ("html", "json"):
            target = args.report_dir / f"demo-report.{fmt}"
            proc = lab.run([*base, "--format", fmt, "-o", str(target)], cwd=str(REPO), check=False,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            if not target.is_file():
                print(f"could not write {target}: {proc.stderr.strip()}", file=sys.stderr)
                return 2
            print(f"wrote {target}")
        print(f"fixer exited {code} (1 = error findings, 3 = some hosts could not be inspected: "
              "the lab seeds both on purpose)")
        return code
    finally:
        lab.down()
        print("lab stopped")


if __name__ == "__main__":
    sys.exit(main())
