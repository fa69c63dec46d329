"""Rule manifest: MANIFEST.sha256 of every output under results/<trial>/ (written last)."""
import sys

sys.stderr = open(snakemake.log[0], "w")

from pilottrial.provenance.manifest import write_manifest

write_manifest(snakemake.params.results)
