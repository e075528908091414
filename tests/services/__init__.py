"""Real backing services the test run starts for itself (pytest plugin modules)."""
