"""The interactive dashboard of the market model (Mesa's SolaraViz; the ``viz`` extra).

- :mod:`~aimarket.experiments.dashboard.controls`: the table of inputs (dotted scenario keys) and Mesa's
  ``model_params``;
- :mod:`~aimarket.experiments.dashboard.model`: the Mesa model behind the page, stepping the market model;
- :mod:`~aimarket.experiments.dashboard.components`: the plots and read-outs;
- :mod:`~aimarket.experiments.dashboard.app`: the page ``solara run`` serves (``aimarket dashboard``);
- :mod:`~aimarket.experiments.dashboard.assets`: the page's front-end packages in a local folder (no CDN).
"""
