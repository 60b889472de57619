"""hall-controller: the on-premise controller daemon of a one-window service hall."""

__version__ = "0.1.0"
