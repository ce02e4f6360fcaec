"""Wire protocols both sides of an exchange speak (the engine's protocol layer): SIP."""
