"""Deployment tooling; `package_lambda` is imported by the tests and the cold-start benchmark."""
