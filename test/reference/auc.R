# Reference AUCs for stats/train/metrics.ts (test/train-metrics.test.ts): the Mann–Whitney
# statistic U / (n1 * n0) from base R's wilcox.test (tied scores count 1/2, as pROC's AUC), on
# (1) rounded scores with many ties, (2) scores tied across classes in few distinct values, and
# (3) the fitted probabilities of R's glm on flchain (death ~ age + sex + creatinine + kappa +
# lambda, complete cases): the AUC a logistic model of these columns reaches at its optimum.
# Run from the repository root: Rscript test/reference/auc.R > test/reference/auc.json
mw <- function(s, y) {
  w <- suppressWarnings(wilcox.test(s[y == 1], s[y == 0], exact = FALSE, correct = FALSE))
  unname(w$statistic) / (sum(y == 1) * sum(y == 0))
}
num <- function(x) sprintf("%.17g", x)
vec <- function(x) sprintf("[%s]", paste(num(x), collapse = ", "))
set.seed(16)
n <- 300
y1 <- rbinom(n, 1, 0.3)
s1 <- round(rnorm(n) + 0.8 * y1, 1)
y2 <- rep(c(0, 1), times = c(40, 25))
s2 <- c(sample(1:5, 40, replace = TRUE), sample(2:6, 25, replace = TRUE))
fl <- read.csv("examples/flchain/flchain.csv", na.strings = c("", "NA"))
fl$sex <- factor(fl$sex, levels = c("F", "M"))
fl$dead <- as.integer(fl$death == 1)
m <- glm(dead ~ age + sex + creatinine + kappa + lambda, data = fl, family = binomial,
         control = glm.control(epsilon = 1e-13, maxit = 100))
p <- fitted(m)
yy <- m$y
cat("{\n",
    sprintf('  "ties": {"scores": %s, "labels": %s, "auc": %s},\n', vec(s1), vec(y1), num(mw(s1, y1))),
    sprintf('  "fewValues": {"scores": %s, "labels": %s, "auc": %s},\n', vec(s2), vec(y2), num(mw(s2, y2))),
    sprintf('  "flchainGlm": {"columns": ["age", "sex", "creatinine", "kappa", "lambda"], "n": %d, "auc": %s, "logLoss": %s, "coefficients": %s},\n',
            length(yy), num(mw(p, yy)), num(-mean(yy * log(p) + (1 - yy) * log(1 - p))), vec(coef(m))),
    sprintf('  "R": "%s"\n}\n', R.version.string), sep = "")
