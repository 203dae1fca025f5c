"""trialkit: the helper package behind the Zang et al. (2022) notebook collection.

Modules, by what they hold:

- ``published`` the trial's published facts as a tidy table (``data/published``)
- ``cohort``    synthetic patients: simulate, reconstruct, ensemble; the assumptions
- ``schema``    the dataset contracts (ADSL, ADLB, ADEX, ADAE, ADRESP); ``read`` a folder
- ``derive``    baseline, change, visit windows, analysis flags, the composite responder
- ``stats``     statistics: binary-endpoint intervals and tests, fragility index, ...
- ``plots``     figures (the only module that draws)
- ``params``    notebook parameters: declared ranges and their validation
- ``run``       render notebooks with papermill into ``reports/``; ``record`` results

Importing ``trialkit`` is cheap: nothing heavy (papermill, statsmodels) is imported
until a module that needs it is used.
"""

from trialkit.run import record

__all__ = ["record"]
__version__ = "0.1.0"
