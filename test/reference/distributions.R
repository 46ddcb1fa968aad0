# Reference values for stats/distributions.ts (test/stats-distributions.test.ts).
# Run: Rscript test/reference/distributions.R > test/reference/distributions.json
z <- c(0, 0.1, 0.5, 1, 1.959963984540054, 2.5, 3, 5, 8, 12, 20, 35)
chi <- list(c(0.5, 1), c(3.84, 1), c(10, 1), c(50, 1), c(1, 2), c(7, 3), c(20, 5), c(0.2, 4), c(100, 10), c(300, 30), c(1e-4, 1), c(60, 2))
lg <- c(0.1, 0.5, 1, 1.5, 2, 3.7, 10, 25.5, 101, 1000, 123456.5)
p <- c(1e-12, 1e-6, 0.001, 0.02, 0.025, 0.1, 0.5, 0.9, 0.975, 0.999, 1 - 1e-9)
num <- function(x) sprintf("%.17g", x)
cat("{\n")
cat(sprintf('  "normalUpper": [%s],\n', paste(sprintf("[%s, %s]", num(z), num(pnorm(z, lower.tail = FALSE))), collapse = ", ")))
cat(sprintf('  "chiSquareUpper": [%s],\n', paste(sapply(chi, function(v) sprintf("[%s, %s, %s]", num(v[1]), num(v[2]), num(pchisq(v[1], v[2], lower.tail = FALSE)))), collapse = ", ")))
cat(sprintf('  "logGamma": [%s],\n', paste(sprintf("[%s, %s]", num(lg), num(lgamma(lg))), collapse = ", ")))
cat(sprintf('  "normalQuantile": [%s],\n', paste(sprintf("[%s, %s]", num(p), num(qnorm(p))), collapse = ", ")))
cat(sprintf('  "R": "%s"\n', R.version.string))
cat("}\n")
