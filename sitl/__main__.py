"""``python -m sitl``: run skyscan's simulated ArduCopter until SIGINT/SIGTERM (exit 0; bad input: 2)."""

from __future__ import annotations

import sys

from sitl.cli_args import build_options, parser
from sitl.server import run_sitl
from skyscan.errors import SkyscanError


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run; a user error prints one line on stderr and returns 2."""
    argv = list(sys.argv[1:] if argv is None else argv)
    # "--home -35.3,149.1" would look like an option to argparse: glue such values to their flag.
    for i in range(len(argv) - 2, -1, -1):
        if argv[i] in ("--home", "--wind") and argv[i + 1].startswith("-"):
            argv[i:i + 2] = [f"{argv[i]}={argv[i + 1]}"]
    args = parser().parse_args(argv)
    try:
        options = build_options(home=args.home, listen=args.listen, udp_out=args.udp_out, speedup=args.speedup,
                                wind=args.wind, seed=args.seed, log_dir=args.log_dir, instance=args.instance,
                                mission_request=args.mission_request, max_items=args.max_items, sysid=args.sysid,
                                rate=args.rate, params=args.param, start_time=args.start_time,
                                ekf_delay=args.ekf_delay, plugins=args.plugin, status_every=args.status_every,
                                world=args.world, camera=args.camera, photo_size=args.photo_size,
                                world_extent=args.world_extent)
        return run_sitl(options)
    except SkyscanError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
