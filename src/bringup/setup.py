"""foresight_bringup: installs the top-level launch/ and config/ into share/ for ros2 launch."""

from pathlib import Path

from setuptools import find_packages, setup

PACKAGE = "foresight_bringup"
HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent


def tree(folder: str) -> list[tuple[str, list[str]]]:
    """data_files entries for every file below REPO/folder, keeping the layout."""
    entries: dict[str, list[str]] = {}
    for path in sorted((REPO / folder).rglob("*")):
        if path.is_file():
            rel_dir = path.parent.relative_to(REPO)
            entries.setdefault(f"share/{PACKAGE}/{rel_dir}", []).append(
                str(Path("..", "..", path.relative_to(REPO))))
    return sorted(entries.items())


setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        *tree("launch"),
        *tree("config"),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="foresight developers",
    maintainer_email="dev@foresight.invalid",
    description="Launch files, configuration and the runner/CLI of the foresight stack.",
    license="Apache-2.0",
    entry_points={"console_scripts": []},
)
