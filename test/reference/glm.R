# Reference fits for the GLM kinds (test/stats-glm.test.ts): R's glm on the example CSVs, with
# factors coded as the blindsum schema orders their levels (the first level is the reference),
# complete cases, a tight convergence tolerance, and standard errors at the converged coefficients.
# Run from the repository root: Rscript test/reference/glm.R > test/reference/glm.json
pbc <- read.csv("examples/pbc/pbc.csv", na.strings = c("", "NA"))
fl <- read.csv("examples/flchain/flchain.csv", na.strings = c("", "NA"))
pbc$sex <- factor(pbc$sex, levels = c("f", "m"))
pbc$edema <- factor(pbc$edema, levels = c("0", "0.5", "1"))
pbc$stage <- factor(pbc$stage, levels = c("1", "2", "3", "4"))
fl$sex <- factor(fl$sex, levels = c("F", "M"))
fl$mgus <- factor(fl$mgus, levels = c("0", "1"))
ctl <- glm.control(epsilon = 1e-13, maxit = 100)
num <- function(x) ifelse(is.na(x), "null", sprintf("%.17g", x))
vec <- function(x) sprintf("[%s]", paste(num(x), collapse = ", "))
str <- function(x) sprintf("[%s]", paste(sprintf('"%s"', x), collapse = ", "))
fit <- function(name, f, data, family) {
  m0 <- glm(f, data = data, family = family, control = ctl)
  # Refit from the converged coefficients: summary.glm's standard errors use the weights of the
  # last IRLS iteration, i.e. of the previous iterate; started at the MLE, they are the MLE's.
  m <- glm(f, data = data, family = family, control = ctl, start = coef(m0))
  m$iter <- m0$iter
  s <- summary(m)$coefficients
  sprintf('"%s": {"terms": %s, "coefficients": %s, "standardErrors": %s, "zValues": %s, "pValues": %s, "deviance": %s, "nullDeviance": %s, "aic": %s, "dfResidual": %s, "dfNull": %s, "n": %s, "iter": %s}',
    name, str(rownames(s)), vec(s[, 1]), vec(s[, 2]), vec(s[, 3]), vec(s[, 4]), num(m$deviance), num(m$null.deviance),
    num(m$aic), num(m$df.residual), num(m$df.null), num(nobs(m)), num(m$iter))
}
pbc$dead <- as.integer(pbc$status == 2)
fl$dead <- as.integer(fl$death == 1)
pbc_pos <- subset(pbc, time > 0)
out <- c(
  fit("pbc logistic", dead ~ age + bili + albumin + sex + edema, pbc, binomial),
  fit("pbc logistic where stage in 3, 4", dead ~ age + bili + protime, subset(pbc, stage %in% c("3", "4")), binomial),
  fit("pbc poisson with exposure", copper ~ age + sex + edema + bili + offset(log(time)), pbc_pos, poisson),
  fit("flchain logistic", dead ~ age + sex + creatinine + kappa + lambda, fl, binomial),
  fit("flchain poisson", futime ~ age + sex + mgus, fl, poisson)
)
cat("{\n  ", paste(out, collapse = ",\n  "), sprintf(',\n  "R": "%s"\n}\n', R.version.string), sep = "")
