"""MockAdapter: the in-process paper exchange that fills against the local L2 book."""
