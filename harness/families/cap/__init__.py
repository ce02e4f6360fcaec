"""The cap format family."""
