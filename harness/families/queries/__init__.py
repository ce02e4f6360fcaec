"""The queries format family."""
