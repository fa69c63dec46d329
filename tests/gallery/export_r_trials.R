# Export public two-arm longitudinal data sets shipped with Debian's R packages, for the test
# gallery (tests/test_gallery.py). Nothing exported here is committed: the tests run this script
# into a temporary folder.
#   Rscript tests/gallery/export_r_trials.R <out-dir>
# Each data set is written as it comes: its own columns, names, codes and layout. Only rows are
# selected (two arms of a larger design); a participant column is added only where the data set
# has none (seizure, anorexia: the row number) or where its id is nested in another column
# (respiratory: id restarts at 1 in each centre, so patient = "<centre>-<id>").
suppressPackageStartupMessages({library(MASS); library(nlme); library(geepack)})

args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 1) stop("usage: Rscript export_r_trials.R <out-dir>")
out <- args[1]
dir.create(out, showWarnings = FALSE, recursive = TRUE)

write_trial <- function(frame, file) {
  frame <- as.data.frame(frame)  # drop nlme's groupedData classes; keep columns as they are
  for (col in names(frame)) if (is.factor(frame[[col]])) frame[[col]] <- as.character(frame[[col]])
  write.csv(frame, file.path(out, file), row.names = FALSE, na = "")
  cat(sprintf("%-16s %4d rows x %2d columns\n", file, nrow(frame), ncol(frame)))
}

# MASS::epil -- progabide vs placebo in epilepsy (Thall & Vail 1990): long, 59 patients x 4
# two-week periods, seizure count y, the 8-week baseline count as a column (base), age.
write_trial(MASS::epil, "epil.csv")

# geepack::seizure -- the same trial, wide: y1..y4, base, trt coded 0/1; no id column.
data(seizure, package = "geepack")
write_trial(cbind(id = seq_len(nrow(seizure)), seizure), "seizure.csv")

# MASS::Sitka -- 79 Sitka spruce trees, control vs ozone, log size at 5 days 152..258 of 1988.
write_trial(MASS::Sitka, "sitka.csv")

# nlme::Orthodont -- 27 children (16 boys, 11 girls), distance (mm) at ages 8, 10, 12, 14.
write_trial(nlme::Orthodont, "orthodont.csv")

# nlme::BodyWeight -- rat body weight (g) on days 1..64 (11 times), diets 1 and 2 (8 + 4 rats).
write_trial(subset(nlme::BodyWeight, Diet %in% c("1", "2")), "bodyweight.csv")

# datasets::ChickWeight -- chick weight (g) at days 0..21 (12 times), diets 1 and 2 (20 + 10
# chicks), with dropouts.
write_trial(subset(datasets::ChickWeight, Diet %in% c("1", "2")), "chickweight.csv")

# geepack::respiratory -- active (A) vs placebo (P) in respiratory illness, 2 centres, 111
# patients, binary status at 4 visits, baseline status as a column.
data(respiratory, package = "geepack")
write_trial(cbind(patient = sprintf("%d-%02d", respiratory$center, respiratory$id), respiratory),
            "respiratory.csv")

# MASS::anorexia -- weight (lb) before and after treatment, family therapy (FT) vs control
# (Cont); wide, one post-treatment visit; no id column.
anorexia <- subset(MASS::anorexia, Treat %in% c("Cont", "FT"))
write_trial(cbind(id = seq_len(nrow(anorexia)), anorexia), "anorexia.csv")
