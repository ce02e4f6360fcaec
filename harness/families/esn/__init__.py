"""The esn format family."""
