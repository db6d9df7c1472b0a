"""The ``cctv-sentinel`` command line: one module per command family, one error choke point."""
