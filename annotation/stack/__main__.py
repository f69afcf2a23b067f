"""python -m annotation.stack up|down|status [--data-dir DIR] [--json]"""

from __future__ import annotations

import argparse
import json
import sys

from . import StackError, down, status, up


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m annotation.stack",
        description="Start, stop or inspect the local Argilla stack (Redis, OpenSearch, argilla-server).",
    )
    parser.add_argument("command", choices=["up", "down", "status"])
    parser.add_argument("--data-dir", help="data directory (default: $CURATE_STACK_DIR or <repo>/.stack)")
    parser.add_argument("--json", action="store_true", help="print status as JSON")
    args = parser.parse_args(argv)
    try:
        if args.command == "up":
            info = up(args.data_dir)
            print(info.url)
        elif args.command == "down":
            down(args.data_dir)
        else:
            report = status(args.data_dir)
            if args.json:
                print(json.dumps(report, indent=2))
            else:
                print(f"{report['url']}  {'up' if report['up'] else 'not up'}  (data: {report['data_dir']})")
                for name, state in report["services"].items():
                    pid = state["pid"] or "-"
                    health = "ok" if state["healthy"] else ("not answering" if state["pid"] else "stopped")
                    print(f"  {name:15} pid {pid!s:8} {health}")
            return 0 if report["up"] else 3
    except StackError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
