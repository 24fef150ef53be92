"""The sweep engine: experiment files to finished runs in a results folder.

- :mod:`~aimarket.experiments.sweeps.spec`: the experiment file format and its validation
  (:mod:`~aimarket.experiments.sweeps.spec_factors`: the factor tables).
- :mod:`~aimarket.experiments.sweeps.design`: the design points and tasks of an experiment.
- :mod:`~aimarket.experiments.sweeps.session`: ``sweep()``, one session over a results folder (resume, code
  identity: :mod:`~aimarket.experiments.sweeps.code_identity`).
- :mod:`~aimarket.experiments.sweeps.runner`: the backends (this process, local processes, Dask), with
  :mod:`~aimarket.experiments.sweeps.scheduler_connection` and SLURM (:mod:`~aimarket.experiments.sweeps.slurm`,
  :mod:`~aimarket.experiments.sweeps.slurm_options`).
- :mod:`~aimarket.experiments.sweeps.store`: the results folder and ``load()``; its run folders
  (:mod:`~aimarket.experiments.sweeps.run_folders`), ``summary.parquet``
  (:mod:`~aimarket.experiments.sweeps.summary_table`) and ``aimarket sweep --check``
  (:mod:`~aimarket.experiments.sweeps.store_check`).

The sweep engine never imports matplotlib nor :mod:`aimarket.experiments.analysis` (tests/test_architecture.py).
"""
