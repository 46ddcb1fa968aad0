# Covariance and correlation with categorical columns (treatment coding, first level the reference,
# as model.matrix codes factor()): R on pbc, the reference of test/stats-cor-factor.test.ts.
# Complete cases (na.omit) as the federated kinds use them. Run from the repository root:
#   Rscript test/reference/cor-factor.R > test/reference/cor-factor.json
d <- read.csv("examples/pbc/pbc.csv", na.strings = "")
d$stage <- factor(d$stage, levels = c("1", "2", "3", "4"))
d$sex <- factor(d$sex, levels = c("f", "m"))
d$edema <- factor(d$edema, levels = c("0", "0.5", "1"))
# trt is declared with missing: "category": "(missing)" is missing here too (NA, dropped).
d$trt <- factor(d$trt, levels = c("1", "2"))
one <- function(f) {
  mf <- model.frame(f, data = d, na.action = na.omit)
  X <- model.matrix(f, mf)[, -1, drop = FALSE]
  list(n = nrow(X), columns = colnames(X), means = unname(colMeans(X)), cov = unname(cov(X)), cor = unname(cor(X)))
}
out <- list(
  stage_age_albumin = one(~ stage + age + albumin),
  sex_edema_bili = one(~ sex + edema + bili),
  trt_stage_protime = one(~ trt + stage + protime),
  stage_only = one(~ stage)
)
num <- function(x) formatC(x, digits = 17, format = "g")
mat <- function(M) paste0("[", paste(sapply(seq_len(nrow(M)), function(i) paste0("[", paste(num(M[i, ]), collapse = ", "), "]")), collapse = ", "), "]")
js <- function(r) sprintf('{"n": %d, "columns": [%s], "means": [%s], "covariance": %s, "correlation": %s}',
  r$n, paste0('"', r$columns, '"', collapse = ", "), paste(num(r$means), collapse = ", "), mat(r$cov), mat(r$cor))
cat("{\n", paste(sprintf('"%s": %s', names(out), sapply(out, js)), collapse = ",\n"), "\n}\n", sep = "")
