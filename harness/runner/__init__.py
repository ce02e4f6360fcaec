"""The runner: scenario context and templating, the generic checks, the engine that replays scenarios."""
