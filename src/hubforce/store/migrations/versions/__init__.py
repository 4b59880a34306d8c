"""State store revisions, oldest first."""
