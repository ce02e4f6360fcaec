"""Resilience across force boundaries (``specs/resilience.md``, suite ``resilience-core``): step kinds, fault
plans and checks that are not a format family's."""
