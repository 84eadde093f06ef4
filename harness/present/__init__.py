"""Presentation: text, figures and pages of what `harness.analysis` computes; nothing here
measures or fits.

- `figure_files`: the one helper that saves every figure (PNG + SVG, footer with provenance);
- `fit_text`, `fit_plot`: `harness fit` as console text and plots;
- `simulation_text`, `simulation_plot`: `harness simulate` as console text and Figure 1;
- `comparison_text`: `harness compare` as console text;
- `energy_notes`: the lines under `harness measure`'s figures (throttling, cool-down, host share);
- `report` (with `rows`, `report_figures`, `page`, `html_page`, `markdown_page`): the report of a
  results database.
"""
