"""Analysis: what the measurements and the published points say, as records and tables.

- `fit`: the paper's OLS regressions of performance on compute (Fit, FitSkipped, point selection);
- `extrapolate`: the compute (and CO2, dollars) a fit implies for a target error;
- `measured`: the harness's own points, read and pooled with the published ones;
- `tables`: fits and projections as table rows, notes and JSON;
- `fit_report`: everything `harness fit` computes, for one request;
- `simulation`: the paper's Figure 1 simulation;
- `comparison`: a new architecture beside the zoo and the paper's trend (`harness compare`).
"""
