"""Simulators of every hall device family, speaking the real frames over pseudo-terminals
and TCP, with state a test (or a newcomer running `hallctl simulate`) can read and drive:
what each screen shows, what the printer printed, a key to press, a card to lay down.
"""
