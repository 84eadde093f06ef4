"""The paper's Figure 1 (Thompson et al. 2020, arXiv:2007.05558): why flexible models need
far more data, and so more computation, than a model that knows the true features.

Data-generating process (harness choice; the paper gives only the outline):
  y = X beta + noise, X with i.i.d. N(0, 1) entries over `candidate_features` P columns, of
  which the first `true_features` p carry coefficients of +-`coefficient` (random signs) and
  the rest are zero; noise ~ N(0, noise_sd^2).
Models:
  oracle       OLS on the p true features only;
  flexible     OLS on all P candidate features (defined for n > P + 1);
  regularised  the flexible model with a penalty: lasso, objective
               (1/2n)||y - Xb||^2 + lam ||b||_1, lam = penalty_scale * noise_sd * sqrt(2 ln P / n)
               (the universal threshold with the noise level known), solved by batched FISTA
               with adaptive restart to a tolerance of `tol` on the coefficients; or ridge,
               (X'X + alpha I) b = X'y with alpha = penalty_scale * noise_sd^2 P / ||beta||^2
               (the Bayes choice for coefficients spread evenly over P features), closed form.
Performance = -log10 of the mean over simulations of the normalised MSE against the optimal
predictor, E_x[(x'b_hat - x'beta)^2] / E_x[(x'beta)^2] = ||b_hat - beta||^2 / ||beta||^2
(exact for this isotropic design, no test set needed).
Computation = parameters x data points, and solver FLOPs by formula for the algorithm used
(normal equations + Cholesky; FISTA with the measured mean iteration count; ridge primal or
dual), i.e. what fitting real data of that size would cost, not what this simulation spends.

Vectorisation:
* OLS (oracle, flexible): each simulation's loss is drawn from its exact distribution,
  sd^2 chi2(q) / chi2(n - q + 1) / ||beta||^2 (see ols_loss_draws), so every simulation has its
  own design and noise at O(1) cost.
* Penalised model: simulations run in groups of `group_size` that share one design matrix X
  (independent signs and noise per simulation), so every solve is a matrix-matrix product; the
  standard error treats the groups as the independent units. For n >= P the design is never
  formed: X'X is drawn from its Wishart law by Bartlett's decomposition, X'X = A A' with A
  lower triangular, and X'noise ~ N(0, sd^2 X'X) as sd * A xi, exact in distribution.
Random numbers come from numpy's default_rng seeded with (seed, n, stream): deterministic.

Modules: `config` (the records), `flops` (solver FLOPs), `solvers` (FISTA, power method,
Bartlett), `estimators` (losses at one sample size), `run` (curves and crossovers), `tables`.
"""
