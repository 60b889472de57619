"""The item catalog (事项, 5.1.2): its model, and the strict loader for the catalog file
and for the cloud's `catalog.update` bodies (one parser for both, so both are checked alike).
"""
