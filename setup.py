"""Maps the top-level folders server/, client/, tools/ onto genai_mcp.server/.client/.tools.

Everything else about the distribution lives in pyproject.toml; only the package list is
computed here, so a new subpackage needs no edit anywhere.
"""

from setuptools import find_packages, setup

FOLDERS = ("server", "client", "tools")

packages = []
for folder in FOLDERS:
    packages.append(f"genai_mcp.{folder}")
    packages += [f"genai_mcp.{folder}.{sub}" for sub in find_packages(folder)]

setup(
    packages=packages,
    package_dir={f"genai_mcp.{folder}": folder for folder in FOLDERS},
)
