"""The study: run folders and ``load_or_train``, the entries of ``fgssl demo``, its units
of work and evaluation cache, the demo itself, and ``fgssl bench``."""
