"""Project tooling that is not part of the installed library (the Docker driver)."""
