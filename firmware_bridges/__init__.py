"""Device bridges: one module per device family, each a transport plus a pure codec.

The daemon reaches hall hardware only through this package, as declared in
`device_profiles/` and wired in the hall configuration (see docs/architecture.md).
"""
