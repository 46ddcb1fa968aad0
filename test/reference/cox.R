# Reference values for the federated Cox model (stats/kinds/cox.ts; test/stats-cox.test.ts).
# Run from the repository root: Rscript test/reference/cox.R > test/reference/cox.json
# Times are binned on the public grid exactly as timeGrid/timeBin do (stats/kinds/design.ts): the
# default 100 equal bins of the time column's schema bounds [0, 10000], bins [e_j, e_{j+1}) with the
# last one closed, a time in bin j taken to be e_{j+1}. Categorical predictors are factors with the
# schema's levels (the first is the reference), as the design codes them.
suppressMessages(library(survival))
grid <- function(a, b, k = 100) c(a + ((b - a) * (0:(k - 1))) / k, b)
tbin <- function(t, e) e[findInterval(t, e, rightmost.closed = TRUE) + 1]
num <- function(x) ifelse(is.na(x), "null", sprintf("%.17g", x))
vec <- function(x) sprintf("[%s]", paste(num(x), collapse = ", "))
ctl <- coxph.control(eps = 1e-12, toler.chol = 1e-13, iter.max = 50)

fit_json <- function(name, formula, data, extra = "") {
  fit <- coxph(formula, data = data, ties = "breslow", control = ctl)
  dflt <- coxph(formula, data = data, ties = "breslow")
  s <- summary(fit)
  cf <- s$coefficients
  ci <- s$conf.int
  test <- function(t) sprintf('{ "statistic": %s, "df": %s, "p": %s }', num(t[["test"]]), num(t[["df"]]), num(t[["pvalue"]]))
  out <- c(
    sprintf('"terms": [%s]', paste(sprintf('"%s"', rownames(cf)), collapse = ", ")),
    sprintf('"coefficients": %s', vec(cf[, "coef"])),
    sprintf('"hazardRatios": %s', vec(cf[, "exp(coef)"])),
    sprintf('"standardErrors": %s', vec(cf[, "se(coef)"])),
    sprintf('"z": %s', vec(cf[, "z"])),
    sprintf('"p": %s', vec(cf[, "Pr(>|z|)"])),
    sprintf('"lower95": %s', vec(ci[, "lower .95"])),
    sprintf('"upper95": %s', vec(ci[, "upper .95"])),
    sprintf('"loglik": %s', vec(fit$loglik)),
    sprintf('"likelihoodRatio": %s', test(s$logtest)),
    # summary() rounds the Wald statistic to 2 decimals; fit$wald.test is the unrounded one.
    sprintf('"wald": %s', test(c(test = unname(fit$wald.test), df = s$waldtest[["df"]], pvalue = pchisq(unname(fit$wald.test), s$waldtest[["df"]], lower.tail = FALSE)))),
    sprintf('"score": %s', test(s$sctest)),
    sprintf('"n": %d, "events": %d, "iter": %d, "iterDefault": %d', fit$n, fit$nevent, fit$iter, dflt$iter)
  )
  if (extra != "") out <- c(out, extra)
  cat(sprintf('  "%s": {\n    %s\n  },\n', name, paste(out, collapse = ",\n    ")))
  # The print for the report (stderr).
  message("== ", name, " ==\n", paste(capture.output(print(fit), print(s)), collapse = "\n"))
  invisible(fit)
}

cat("{\n")
pbc <- read.csv("examples/pbc/pbc.csv")
pbc$edema <- factor(as.character(pbc$edema), levels = c("0", "0.5", "1"))
pbc$sex <- factor(pbc$sex, levels = c("f", "m"))
pbc$tbin <- tbin(pbc$time, grid(0, 10000))
pbc$event <- pbc$status == 2
f_pbc <- Surv(tbin, event) ~ age + bili + albumin + protime + edema + sex
fit_json("pbc", f_pbc, pbc)
# Parties by trt (1, 2, not randomised = missing); the not-randomised party drops out after round 1.
fit_json("pbcDropout", f_pbc, subset(pbc, !is.na(trt)))
# The same model on the unbinned times (docs/cox.md: what the grid costs).
unb <- coxph(Surv(time, event) ~ age + bili + albumin + protime + edema + sex, data = pbc, ties = "breslow", control = ctl)
efr <- coxph(Surv(time, event) ~ age + bili + albumin + protime + edema + sex, data = pbc, control = ctl)
# Finer public grids (docs/cox.md): 1000 bins of 10 days, 10000 bins of 1 day (= the unbinned integer times shifted by one day).
fine <- sapply(c(1000, 10000), function(k) coef(coxph(Surv(tbin(time, grid(0, 10000, k)), event) ~ age + bili + albumin + protime + edema + sex, data = pbc, ties = "breslow", control = ctl)))
cat(sprintf('  "pbcFinerGrids": { "bins1000": %s, "bins10000": %s },\n', vec(fine[, 1]), vec(fine[, 2])))
cat(sprintf('  "pbcUnbinned": { "coefficients": %s, "standardErrors": %s, "efronCoefficients": %s },\n',
  vec(coef(unb)), vec(sqrt(diag(vcov(unb)))), vec(coef(efr))))

fl <- read.csv("examples/flchain/flchain.csv")
fl$sex <- factor(fl$sex, levels = c("F", "M"))
fl$tbin <- tbin(fl$futime, grid(0, 10000))
fl$event <- fl$death == 1
f_fl <- Surv(tbin, event) ~ age + sex + creatinine + kappa + lambda
fit_json("flchain", f_fl, fl)
# Parties by flc.grp (10 parties); the flc.grp 10 party drops out after round 1.
fit_json("flchainDropout", f_fl, subset(fl, flc.grp != 10))
unf <- coxph(Surv(futime, event) ~ age + sex + creatinine + kappa + lambda, data = fl, ties = "breslow", control = ctl)
cat(sprintf('  "flchainUnbinned": { "coefficients": %s, "standardErrors": %s },\n', vec(coef(unf)), vec(sqrt(diag(vcov(unf))))))
cat(sprintf('  "R": "%s", "survival": "%s"\n', R.version.string, packageVersion("survival")))
cat("}\n")
