"""Provenance: input checksums and versions, the manifest of outputs, verification by rerun, input checks."""
