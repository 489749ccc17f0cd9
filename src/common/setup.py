from setuptools import find_packages, setup

PACKAGE = "foresight_common"

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
    description="Contract, conversions, parameters, robot model and TF of foresight.",
    license="Apache-2.0",
    entry_points={"console_scripts": ["tf_publisher = foresight_common.tf_publisher_node:main"]},
)
