"""Scenarios: the schema of every model parameter and the ways a scenario is built from user input.

* :mod:`~aimarket.simulation.scenario.schema`: the :class:`Scenario` model (every parameter, unit and
  allowed range) and its canonical form (``scenario_to_dict``, ``scenario_hash``);
* :mod:`~aimarket.simulation.scenario.loading`: ``load_scenario`` (TOML files, ``extends``, the packaged
  default);
* :mod:`~aimarket.simulation.scenario.overrides`: dotted-key overrides (``--set``, ``users__count=``);
* :mod:`~aimarket.simulation.scenario.validation`: a nested dict into a :class:`Scenario`, every failure a
  one-line message naming the field and what is allowed;
* :mod:`~aimarket.simulation.scenario.fields`: navigation of the schema, shared by the two above.
"""
