"""An episode's bag (./foresight run --record DIR) as an animated GIF, an MP4 or a strip of
frames, with the world model's tracks, the running skill and the supervisor's state drawn on
the overhead camera's images.

    ./foresight python tools/export_episode.py BAG --gif out.gif [--mp4 out.mp4]
        [--strip out.png --strip-frames 8] [--every 3] [--start 20 --end 40] [--fps 5]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from foresight_bringup.episode_video import frames, write_gif, write_mp4, write_strip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bag", type=Path)
    parser.add_argument("--gif", type=Path)
    parser.add_argument("--mp4", type=Path)
    parser.add_argument("--strip", type=Path)
    parser.add_argument("--strip-frames", type=int, default=8)
    parser.add_argument("--every", type=int, default=3, help="keep every N-th camera frame")
    parser.add_argument("--start", type=float, default=0.0, help="simulated s")
    parser.add_argument("--end", type=float, default=None, help="simulated s")
    parser.add_argument("--fps", type=float, default=5.0)
    args = parser.parse_args()
    if not (args.gif or args.mp4 or args.strip):
        parser.error("say what to write: --gif, --mp4 and/or --strip")
    if not args.bag.exists():
        print(f"no bag at {args.bag}", file=sys.stderr)
        return 1
    images = [image for _, image in frames(args.bag, max(1, args.every), args.start,
                                           args.end)]
    if not images:
        print(f"{args.bag}: no camera frames in that time range", file=sys.stderr)
        return 1
    if args.gif:
        write_gif(images, args.gif, args.fps)
    if args.mp4:
        write_mp4(images, args.mp4, args.fps)
    if args.strip:
        step = max(1, len(images) // args.strip_frames)
        write_strip(images[::step][:args.strip_frames], args.strip)
    print(f"{len(images)} frames from {args.bag}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
