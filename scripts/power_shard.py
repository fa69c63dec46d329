"""Rule power_shard: simulate and analyse one shard of the power simulations."""
import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)  # line-buffered: progress is readable while it runs

from pilottrial.planning import PowerPlan, simulate_shard

plan = PowerPlan.from_json(snakemake.input.plan)
shard, shards = int(snakemake.params.shard), int(snakemake.params.shards)
sims = simulate_shard(plan, shard, shards, progress=lambda line: print(line, file=sys.stderr))
sims.to_csv(snakemake.output.shard, index=False, lineterminator="\n", float_format="%.10g")
print(f"shard {shard + 1}/{shards}: {len(sims)} simulated trials written", file=sys.stderr)
