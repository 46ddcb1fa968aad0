# R's semantics of != on missing values (issue 19 item 5): NA != 1 is NA, which subset() drops.
# Reference for test/stats-query-filter.test.ts. Run: Rscript test/reference/filter-ne.R > test/reference/filter-ne.json
d <- read.csv("examples/pbc/pbc.csv", na.strings = "")
cat(sprintf('{"trt_ne_1": %d, "trt_ne_1_or_missing": %d, "stage_ne_4": %d}\n',
  nrow(subset(d, trt != 1)), nrow(subset(d, trt != 1 | is.na(trt))), nrow(subset(d, stage != 4))))
