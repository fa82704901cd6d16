"""Sweeps: an experiment's plan of runs (:mod:`.plan`), its stages (:mod:`.stages`), the jobs a launcher runs
(:mod:`.jobs`), its tables (:mod:`.tables`) and figures (:mod:`.figures`), and paired comparisons of two of its
cells (:mod:`.paired`)."""
