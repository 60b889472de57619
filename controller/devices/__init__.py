"""The device network: profiles, hall wiring, transports, buses and the device manager.

Codecs live in `firmware_bridges/` (pure); this package is the shell around them: it opens
ports and sockets, owns each RS-485 bus with one task, tracks per-device health, turns
key presses into window commands through the single writer, and keeps every display
showing what the hall state says it should (docs/device-protocols.md, device-profiles.md).
"""
