from setuptools import find_packages, setup

PACKAGE = "foresight_perception"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="foresight developers",
    maintainer_email="dev@foresight.invalid",
    description="Perception: RGB-D camera to detected objects and people in the world frame.",
    license="Apache-2.0",
    entry_points={"console_scripts": [
        "perception_node = foresight_perception.perception_node:main",
        "localization_node = foresight_perception.localization_node:main",
    ]},
)
