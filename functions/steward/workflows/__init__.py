"""Each function's run: observe through adapters, decide with the pure domain, act through adapters, report."""
