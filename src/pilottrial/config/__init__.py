"""The trial config: the JSON schema, loading and validation, and the typed :class:`Trial`."""

from pilottrial.config.load import config_schema, labels_as_text, load_config, validate_config
from pilottrial.config.trial import Comparison, Outcome, Trial

__all__ = ["Comparison", "Outcome", "Trial", "config_schema", "labels_as_text", "load_config", "validate_config"]
