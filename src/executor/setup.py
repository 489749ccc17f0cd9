from setuptools import find_packages, setup

PACKAGE = "foresight_executor"

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
    description="Actuation: skill actions, IK, trajectories, safety supervisor.",
    license="Apache-2.0",
    entry_points={"console_scripts": [
        "executor_node = foresight_executor.executor_node:main",
        "navigation_node = foresight_executor.navigation_node:main",
    ]},
)
