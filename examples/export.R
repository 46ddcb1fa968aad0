# Exports two datasets of the R package survival, unchanged, to CSV (header row, empty field =
# missing, no row names). Run from the repository root:
#   Rscript examples/export.R
# The SHA-256 of each file is listed in examples/README.md (printed at the end).
library(survival)
write.csv(survival::rotterdam, "examples/rotterdam/rotterdam.csv", na = "", row.names = FALSE)
write.csv(survival::mgus2, "examples/mgus2/mgus2.csv", na = "", row.names = FALSE)
cat("survival", as.character(packageVersion("survival")), "\n")
for (f in c("examples/rotterdam/rotterdam.csv", "examples/mgus2/mgus2.csv")) {
  cat(f, nrow(read.csv(f)), "rows\n")
}
