"""The events Steward accepts, as pydantic models: unknown fields are tolerated, missing needed ones are rejected.

One module per event source, so a function builds only the models it parses. Shapes follow the AWS documentation
for each event (EventBridge envelopes from aws.ecs, aws.ec2, aws.cloudwatch; the SNS record AWS Budgets publishes;
the payload Steward's EventBridge Scheduler schedules send).
"""
