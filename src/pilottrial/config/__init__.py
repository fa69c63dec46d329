"""The trial config: the JSON schema, loading and validation, and the typed :class:`Trial`."""

from pilottrial.config.load import config_schema, labels_as_text, load_config, validate_config
from pilottrial.config.trial import Outcome, Trial

__all__ = ["Outcome", "Trial", "config_schema", "labels_as_text", "load_config", "validate_config"]
