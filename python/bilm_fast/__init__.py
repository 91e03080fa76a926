"""bilm_fast: the native data path of bilm (exact, parallel parsing of numeric text).

See ``_bilm_fast.pyi`` for the full documentation of each function.
"""
from bilm_fast._bilm_fast import __version__, load_uci_har, read_csv, read_matrix, sliding_windows

__all__ = ["__version__", "load_uci_har", "read_csv", "read_matrix", "sliding_windows"]
