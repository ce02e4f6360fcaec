"""Format families: everything particular to one family of messages, one package each.

``rules`` (rules beyond the schema) and ``renditions`` (one content model
carried as JSON or XML) are the mechanisms; each family package holds its own
rules, renditions, readers and builders.
"""
