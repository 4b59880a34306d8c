"""Workflows: trigger -> condition -> actions, declared in the config and run by `hubforce run`."""
