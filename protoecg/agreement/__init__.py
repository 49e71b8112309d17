"""Agreement between raters and the study report: statistics (one registry), their vectorised
bootstrap, number formatting, and ``summary.json`` / ``report.html``."""
