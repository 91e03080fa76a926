"""bilm_fast: the native data path of bilm (exact, parallel UCI HAR parsing).

See ``_bilm_fast.pyi`` for the full documentation of each function.
"""
from bilm_fast._bilm_fast import __version__, load_uci_har, read_matrix, sliding_windows

__all__ = ["__version__", "load_uci_har", "read_matrix", "sliding_windows"]
