# Linear regression with categorical predictors (treatment coding, first level the reference):
# R's lm on pbc, the reference of test/stats-regression-factor.test.ts. Run from the repository root:
#   Rscript test/reference/lm-factor.R > test/reference/lm-factor.json
d <- read.csv("examples/pbc/pbc.csv", na.strings = "")
d$stage <- factor(d$stage, levels = c("1", "2", "3", "4"))
d$sex <- factor(d$sex, levels = c("f", "m"))
d$edema <- factor(d$edema, levels = c("0", "0.5", "1"))
d$trt <- factor(d$trt, levels = c("1", "2"))
fit <- function(f) {
  m <- lm(f, data = d)
  s <- summary(m)
  list(n = nobs(m), terms = names(coef(m)), coefficients = unname(coef(m)),
       standardErrors = unname(s$coefficients[, 2]), rSquared = s$r.squared, sigma = s$sigma)
}
out <- list(
  stage_sex = fit(albumin ~ age + stage + sex),
  edema_trt = fit(bili ~ edema + trt + protime)
)
num <- function(x) formatC(x, digits = 17, format = "g")
js <- function(r) sprintf('{"n": %d, "terms": [%s], "coefficients": [%s], "standardErrors": [%s], "rSquared": %s, "sigma": %s}',
  r$n, paste0('"', r$terms, '"', collapse = ", "), paste(num(r$coefficients), collapse = ", "),
  paste(num(r$standardErrors), collapse = ", "), num(r$rSquared), num(r$sigma))
cat("{\n", paste(sprintf('"%s": %s', names(out), sapply(out, js)), collapse = ",\n"), "\n}\n", sep = "")
