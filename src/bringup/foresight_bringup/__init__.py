"""Launch files, configuration and the runner/CLI of the foresight stack."""
