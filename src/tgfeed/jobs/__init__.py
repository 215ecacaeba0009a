"""The glue layer: jobs combine edges (store, mailer, files, network) with the pure
core. The scheduler and the CLI both call these and nothing else."""
