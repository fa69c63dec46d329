"""The trial config: the JSON schema, loading and validation, and the typed :class:`Trial`."""

from pilottrial.config.load import config_schema, load_config, post_baseline_visits, primary_outcome, validate_config
from pilottrial.config.trial import Outcome, Trial

__all__ = ["Outcome", "Trial", "config_schema", "load_config", "post_baseline_visits", "primary_outcome",
           "validate_config"]
