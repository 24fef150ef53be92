"""Analysis of stored sweep results (the model is never run, the runner never imported).

- :mod:`~aimarket.experiments.analysis.style`: the publication style, colours, line styles and markers.
- :mod:`~aimarket.experiments.analysis.figures`: the building blocks of every figure (``Figure``,
  bands, labels, drawing helpers); the research questions' figures are
  :mod:`aimarket.experiments.questions.paper_figures`.
- :mod:`~aimarket.experiments.analysis.plot`: ``aimarket plot``, one output of any sweep.
- :mod:`~aimarket.experiments.analysis.report`, :mod:`~aimarket.experiments.analysis.report_generic`: the
  report's building blocks and the sections of any sweep, with the Jinja2 templates in ``templates/``.
- :mod:`~aimarket.experiments.analysis.sensitivity`: Sobol and Morris indices of a sweep.
"""
