"""The edxl format family."""
