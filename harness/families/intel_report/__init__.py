"""The intel_report format family."""
