from setuptools import find_packages, setup

PACKAGE = "foresight_simulation"

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
    description="MuJoCo simulation of the foresight scenarios: robot, scene, sensors.",
    license="Apache-2.0",
    entry_points={"console_scripts": [
        "simulation_node = foresight_simulation.simulation_node:main",
    ]},
)
