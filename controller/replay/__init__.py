"""What-if replay of a day of arrivals through the real engine (`hallctl replay`)."""

from controller.replay.sim import (
    Arrival,
    ReplayError,
    Result,
    ServiceModel,
    configured_model,
    empirical_model,
    load_arrivals,
    parse_windows,
    simulate,
)

__all__ = ["Arrival", "ReplayError", "Result", "ServiceModel", "configured_model",
           "empirical_model", "load_arrivals", "parse_windows", "simulate"]
