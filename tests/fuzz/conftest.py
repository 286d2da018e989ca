"""Loads the fuzz tests' hypothesis profile (see fuzz_profile.py)."""
import fuzz_profile  # noqa: F401
