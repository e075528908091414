"""One router per resource; ``studio.app`` includes them all."""
