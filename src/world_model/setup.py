from setuptools import find_packages, setup

PACKAGE = "foresight_world_model"

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
    description="World model: tracking, prediction, what-if simulation of plans.",
    license="Apache-2.0",
    entry_points={"console_scripts": [
        "world_model_node = foresight_world_model.world_model_node:main",
    ]},
)
