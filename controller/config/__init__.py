"""Hall configuration: the frozen model and its strict TOML loader."""

from controller.config.loader import DEFAULT_CONFIG, ConfigError, load_config
from controller.config.model import HallConfig

__all__ = ["DEFAULT_CONFIG", "ConfigError", "HallConfig", "load_config"]
