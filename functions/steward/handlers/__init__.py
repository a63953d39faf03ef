"""Lambda entry points: parse the event, call one domain function through the adapters, report."""
