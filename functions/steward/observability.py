"""The Powertools Logger, Tracer and Metrics every function shares.

The service name comes from POWERTOOLS_SERVICE_NAME (set per function in template.yaml); the metric
namespace is fixed so dashboards and alarms can rely on it.
"""

from aws_lambda_powertools import Logger, Metrics, Tracer

METRIC_NAMESPACE = "Steward"

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace=METRIC_NAMESPACE)
