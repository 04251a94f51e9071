"""Packaging and adoption: the Component, the wheel in a clean venv, quiet CLIs."""
