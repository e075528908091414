"""Sign-in (SIWE sessions for creators and fans) and platform API keys."""
