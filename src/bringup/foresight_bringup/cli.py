"""Command line of ./foresight (placeholder while the runner is written)."""
import sys


def main() -> int:
    print("cli", sys.argv[1:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
