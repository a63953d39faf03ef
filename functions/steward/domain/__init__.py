"""Pure decisions: no boto3, no Slack, no environment. Inputs are values, outputs are Decisions with reasons."""
