"""The register: the certifying body's service (issue 22), its append-only Merkle log, checkpoints and auditor."""
