# Reference values for the kaplan_meier query kind (test/stats-kaplan-meier.test.ts): R's
# survfit (Kaplan–Meier, Greenwood std.err, conf.type = "log"), print(survfit)'s median and its
# CI, summary(survfit, times)'s numbers at risk, and survdiff's log-rank test (rho = 0), on
# grid-binned times: each time is replaced by the upper edge of its bin on the query's public
# grid, binned exactly as stats/kinds/design.ts timeGrid/timeBin do (bins [e_j, e_{j+1}), the
# last one closed; the default grid is 100 equal bins of the time column's schema bounds).
# Run: Rscript test/reference/kaplan-meier.R > test/reference/kaplan-meier.json
suppressPackageStartupMessages(library(survival))

num <- function(x) ifelse(is.na(x) | !is.finite(x), "null", sprintf("%.17g", x))
vec <- function(x) sprintf("[%s]", paste(num(x), collapse = ", "))
str <- function(x) sprintf("\"%s\"", x)
strs <- function(x) sprintf("[%s]", paste(str(x), collapse = ", "))

# timeGrid: `bins` if given, else 100 equal bins of [a, b] computed as a + ((b - a) * i) / 100.
grid <- function(a, b, bins = NULL) {
  if (!is.null(bins)) return(bins)
  k <- 100
  c(sapply(0:(k - 1), function(i) a + ((b - a) * i) / k), b)
}
# timeBin: the largest j with e_j <= t (the last bin closed); the time becomes e_{j+1}.
binned <- function(t, edges) edges[findInterval(t, edges, rightmost.closed = TRUE) + 1]

read <- function(name) read.csv(sprintf("examples/%s/%s.csv", name, name), colClasses = "character")

one <- function(label, data, time, event, positive, a, b, strata = NULL, bins = NULL, times = numeric(0), keep = NULL, missingStratum = FALSE) {
  d <- data
  if (!is.null(keep)) d <- d[keep(d), ]
  t <- as.numeric(d[[time]])
  ev <- d[[event]]
  ok <- !is.na(t) & !is.na(ev) & ev != "NA" & ev != ""
  g <- NULL
  if (!is.null(strata)) {
    g <- d[[strata]]
    if (missingStratum) g[is.na(g) | g == "NA" | g == ""] <- "(missing)"
    else ok <- ok & !is.na(g) & g != "NA" & g != ""
  }
  edges <- grid(a, b, bins)
  df <- data.frame(bt = binned(t[ok], edges), dead = as.numeric(ev[ok] %in% positive))
  if (!is.null(g)) df$g <- g[ok]
  fit <- if (is.null(g)) survfit(Surv(bt, dead) ~ 1, data = df) else survfit(Surv(bt, dead) ~ g, data = df)
  tab <- summary(fit)$table
  if (is.null(dim(tab))) tab <- matrix(tab, nrow = 1, dimnames = list(NULL, names(tab)))
  nstrata <- if (is.null(fit$strata)) 1 else length(fit$strata)
  curves <- character(0)
  for (i in seq_len(nstrata)) {
    f <- if (is.null(fit$strata)) fit else fit[i]
    s <- summary(f, censored = TRUE)
    at <- if (length(times)) summary(f, times = times, extend = TRUE)$n.risk else numeric(0)
    level <- if (is.null(fit$strata)) "null" else str(sub("^g=", "", names(fit$strata)[i]))
    curves <- c(curves, sprintf(paste0(
      '      { "stratum": %s, "n": %s, "events": %s,\n',
      '        "time": %s,\n        "nRisk": %s,\n        "nEvent": %s,\n        "nCensor": %s,\n',
      '        "surv": %s,\n        "stdErr": %s,\n        "lower": %s,\n        "upper": %s,\n',
      '        "median": %s, "medianLower": %s, "medianUpper": %s, "atRisk": %s }'),
      level, num(f$n), num(sum(f$n.event)), vec(s$time), vec(s$n.risk), vec(s$n.event), vec(s$n.censor),
      vec(s$surv), vec(s$std.err), vec(s$lower), vec(s$upper),
      num(tab[i, "median"]), num(tab[i, "0.95LCL"]), num(tab[i, "0.95UCL"]), vec(at)))
  }
  lr <- "null"
  if (!is.null(g)) {
    sd <- survdiff(Surv(bt, dead) ~ g, data = df)
    df.lr <- sum(sd$exp > 0) - 1
    lr <- sprintf('{ "observed": %s, "expected": %s, "chisq": %s, "df": %s, "p": %s }',
      vec(sd$obs), vec(sd$exp), num(sd$chisq), num(df.lr), num(pchisq(sd$chisq, df.lr, lower.tail = FALSE)))
  }
  sprintf(paste0('    %s: {\n      "n": %s, "edges": %s, "times": %s,\n      "curves": [\n%s\n      ],\n      "logRank": %s\n    }'),
    str(label), num(nrow(df)), vec(edges), vec(times), paste(curves, collapse = ",\n"), lr)
}

pbc <- read("pbc")
flchain <- read("flchain")
yearly <- seq(0, 10220, by = 365)
cases <- c(
  one("pbc", pbc, "time", "status", "2", 0, 10000, times = c(0, 1000, 2000, 3000, 4000, 10000)),
  one("pbc-sex", pbc, "time", "status", "2", 0, 10000, strata = "sex", times = c(1000, 2500)),
  one("pbc-stage-yearly", pbc, "time", "status", "2", 0, 10000, strata = "stage", bins = yearly, times = c(365, 1825, 3650)),
  one("pbc-composite-trt-age40", pbc, "time", "status", c("1", "2"), 0, 10000, strata = "trt", missingStratum = TRUE,
    keep = function(d) as.numeric(d$age) >= 40, times = c(500)),
  one("flchain-sex", flchain, "futime", "death", "1", 0, 10000, strata = "sex", times = c(0, 1000, 3000, 5000)),
  one("flchain-mgus-250", flchain, "futime", "death", "1", 0, 10000, bins = seq(0, 10000, by = 250),
    keep = function(d) d$mgus == "1", times = c(2000))
)
cat("{\n  \"R\": ", str(R.version.string), ",\n  \"survival\": ", str(as.character(packageVersion("survival"))), ",\n  \"cases\": {\n", sep = "")
cat(paste(cases, collapse = ",\n"), "\n  }\n}\n", sep = "")
