"""trialkit: the helper package behind the Zang et al. (2022) notebook collection.

Modules, by what they hold:

- ``published`` the trial's published facts as a tidy table (``data/published``)
- ``cohort``    synthetic patients, one import re-exporting the next six modules
- ``assumptions`` every unpublished number with its reason (``data/assumptions.yaml``)
- ``trial_model`` the generative model: ``simulate`` one trial, ``simulate_endpoints``
- ``reconstruct`` one data set that matches every published summary
- ``ensemble``  many reconstructions, built as arrays many at once; cached per seed
- ``compare``   ``compare_with_published``, ``summary``
- ``datafiles`` write, read and ``load`` the CSV files; ``python -m trialkit.cohort``
- ``studies``   simulation studies of power (many simulated trials)
- ``schema``    the dataset contracts (ADSL, ADLB, ADEX, ADAE, ADRESP); ``read`` a folder
- ``derive``    baseline, change, visit windows, analysis flags, the composite responder
- ``stats``     statistics: binary-endpoint intervals and tests, fragility index, ...
- ``plots``     figures (the only module that makes them)
- ``drawing``   how figures are laid out and drawn once into a notebook (PNG)
- ``params``    notebook parameters: declared ranges and their validation
- ``text``      one number formatter for prose and tables; ``say``: Markdown from results
- ``tables``    formatted, captioned tables; Table 1, disposition, incidence
- ``run``       render notebooks with papermill into ``reports/``; ``record`` results
- ``kernel``    what the runner sets up in each kernel it starts, before the first cell
- ``cache``     which executions can be reused (the key of a rendering)
- ``site``      the course site: Sphinx + myst-nb from the executed notebooks
- ``lab``       ``make lab``: student copies of the notebooks for JupyterLab

Importing ``trialkit`` is cheap: nothing heavy (papermill, statsmodels) is imported
until a module that needs it is used.
"""

from trialkit.run import record

__all__ = ["record"]
__version__ = "0.1.0"
